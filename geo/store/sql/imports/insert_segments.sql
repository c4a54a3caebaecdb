-- The staged segments of network :net, their ends resolved to node rows, geometry projected
-- from lon/lat to the working CRS (EPSG:5179).
INSERT INTO road_segment (
    network_id, source, target, osm_way_id, highway, name, ref, oneway, bridge, tunnel,
    length_m, maxspeed_kmh, lanes, attributes, geom
)
SELECT
    :net, a.id, b.id, s.osm_way_id, s.highway, coalesce(s.name, ''), coalesce(s.ref, ''),
    s.oneway, s.bridge, s.tunnel, s.length_m, s.maxspeed_kmh, s.lanes, s.attributes,
    ST_Transform(ST_SetSRID(ST_GeomFromWKB(decode(s.wkb, 'hex')), 4326), 5179)
FROM road_segment_stage s
JOIN road_node a ON a.network_id = :net AND a.osm_id = s.u
JOIN road_node b ON b.network_id = :net AND b.osm_id = s.v
