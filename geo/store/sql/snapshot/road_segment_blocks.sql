-- The segments of network :network_id as a few hundred rows, one per block of 16,384 ids
-- (each an index range of the primary key): each column of a block packed into one bytea
-- (numbers in their binary send form, big-endian; texts one after the other with their byte
-- lengths; geometries as WKB one after the other with their vertex counts), so that two
-- million segments cross as a few hundred values instead of two million rows. The blocks
-- come in id order, and the segments of a block in the order its aggregates all saw them.
SELECT blk.*
FROM (SELECT min(id) >> 14 AS lo, max(id) >> 14 AS hi FROM road_segment WHERE network_id = :network_id) AS span,
    generate_series(span.lo, span.hi) AS b (k)
CROSS JOIN LATERAL (
    SELECT
    string_agg(int8send(s.id), ''::bytea) AS id,
        string_agg(int8send(s.source), ''::bytea) AS source,
        string_agg(int8send(s.target), ''::bytea) AS target,
        string_agg(boolsend(s.oneway), ''::bytea) AS oneway,
        string_agg(int8send(coalesce(s.osm_way_id, -1)), ''::bytea) AS osm_way_id,
        string_agg(boolsend(s.bridge), ''::bytea) AS bridge,
        string_agg(boolsend(s.tunnel), ''::bytea) AS tunnel,
        string_agg(int4send(coalesce(octet_length(convert_to(s.name, 'UTF8')), -1)), ''::bytea) AS name_len,
        string_agg(convert_to(coalesce(s.name, ''), 'UTF8'), ''::bytea) AS name,
        string_agg(int4send(coalesce(octet_length(convert_to(s.highway, 'UTF8')), -1)), ''::bytea) AS highway_len,
        string_agg(convert_to(coalesce(s.highway, ''), 'UTF8'), ''::bytea) AS highway,
        string_agg(int4send(coalesce(octet_length(convert_to(s.ref, 'UTF8')), -1)), ''::bytea) AS ref_len,
        string_agg(convert_to(coalesce(s.ref, ''), 'UTF8'), ''::bytea) AS ref,
        string_agg(int4send(ST_NPoints(s.geom)), ''::bytea) AS npoints,
        string_agg(ST_AsBinary(s.geom, 'NDR'), ''::bytea) AS wkb
    FROM road_segment s
    WHERE s.id >= b.k << 14 AND s.id < (b.k + 1) << 14 AND s.network_id = :network_id
) AS blk
WHERE blk.id IS NOT NULL
ORDER BY b.k
