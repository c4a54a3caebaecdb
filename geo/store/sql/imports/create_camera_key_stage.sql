CREATE TEMP TABLE camera_key_stage (n int8, source_key text) ON COMMIT DROP
