DROP TABLE camera_key_stage
