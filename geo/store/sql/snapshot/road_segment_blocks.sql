-- The segments of network :network_id as a few hundred rows, one per block of 16,384 ids
-- (each an index range of the primary key), so that two million segments cross as a few
-- hundred values instead of two million rows (geo.store.packed). In a block:
--   rec: one fixed record per segment, its numbers in their binary send form (big-endian):
--        id, source, target, osm_way_id (-1 for none) int8; the byte lengths of name,
--        highway and ref (-1 for none) int4; oneway, bridge, tunnel bool;
--   name, highway, ref: the texts one after the other (UTF-8);
--   wkb: the geometries as little-endian WKB one after the other (their headers give their
--        vertex counts).
-- The blocks come in id order; every aggregate of a block sees its segments in one order.
SELECT blk.*
FROM
    (
        SELECT min(id) >> 14 AS lo, max(id) >> 14 AS hi
        FROM road_segment WHERE network_id = :network_id
    ) AS span,
    generate_series(span.lo, span.hi) AS b (k)
CROSS JOIN LATERAL (
    SELECT
        string_agg(
            int8send(s.id) || int8send(s.source) || int8send(s.target)
            || int8send(coalesce(s.osm_way_id, -1))
            || int4send(coalesce(octet_length(convert_to(s.name, 'UTF8')), -1))
            || int4send(coalesce(octet_length(convert_to(s.highway, 'UTF8')), -1))
            || int4send(coalesce(octet_length(convert_to(s.ref, 'UTF8')), -1))
            || boolsend(s.oneway) || boolsend(s.bridge) || boolsend(s.tunnel),
            ''::bytea
        ) AS rec,
        string_agg(convert_to(coalesce(s.name, ''), 'UTF8'), ''::bytea) AS name,
        string_agg(convert_to(coalesce(s.highway, ''), 'UTF8'), ''::bytea) AS highway,
        string_agg(convert_to(coalesce(s.ref, ''), 'UTF8'), ''::bytea) AS ref,
        string_agg(ST_AsBinary(s.geom, 'NDR'), ''::bytea) AS wkb
    FROM road_segment s
    WHERE s.id >= b.k << 14 AND s.id < (b.k + 1) << 14 AND s.network_id = :network_id
) AS blk
WHERE blk.rec IS NOT NULL
ORDER BY b.k
