-- The staged nodes of network :net, lon/lat projected to the working CRS (EPSG:5179).
INSERT INTO road_node (network_id, osm_id, geom)
SELECT :net, osm_id, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 5179)
FROM road_node_stage
