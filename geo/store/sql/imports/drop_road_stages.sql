DROP TABLE road_node_stage, road_segment_stage
