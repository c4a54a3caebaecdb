CREATE TEMP TABLE road_node_stage (osm_id int8, lon float8, lat float8) ON COMMIT DROP
