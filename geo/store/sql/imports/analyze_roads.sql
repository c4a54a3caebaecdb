ANALYZE road_node, road_segment
