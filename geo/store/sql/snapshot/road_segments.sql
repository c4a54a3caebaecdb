-- The segments of network :network_id with their ends' OSM ids, geometry as hex WKB; as CSV
-- with a header line, which snapshot._copy_out parses with Arrow.
COPY (
    SELECT
        s.id, a.osm_id AS u, b.osm_id AS v, s.oneway, s.name, s.highway, s.ref, s.osm_way_id,
        s.bridge, s.tunnel, encode(ST_AsBinary(s.geom), 'hex') AS wkb
    FROM road_segment s
    JOIN road_node a ON a.id = s.source
    JOIN road_node b ON b.id = s.target
    WHERE s.network_id = :network_id
    ORDER BY s.id
) TO STDOUT (FORMAT csv, HEADER)
