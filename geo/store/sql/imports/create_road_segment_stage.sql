CREATE TEMP TABLE road_segment_stage (
    u int8, v int8, osm_way_id int8, highway text, name text, ref text, oneway bool,
    bridge bool, tunnel bool, length_m float8, maxspeed_kmh float8, lanes float8,
    attributes jsonb, wkb text
) ON COMMIT DROP
