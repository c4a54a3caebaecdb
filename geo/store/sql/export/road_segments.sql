SELECT
    s.id, s.network_id, a.osm_id AS u, b.osm_id AS v, s.oneway, s.name, s.highway, s.ref,
    s.osm_way_id, s.bridge, s.tunnel, s.length_m, ST_AsBinary(s.geom) AS wkb
FROM road_segment s
JOIN road_node a ON a.id = s.source
JOIN road_node b ON b.id = s.target
ORDER BY s.network_id, s.id
