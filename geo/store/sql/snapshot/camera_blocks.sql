-- Every camera that is not retired, as a few hundred rows of packed columns, one per block of
-- 16,384 ids (see road_segment_blocks.sql; geo.store.packed): position in the working CRS and
-- what coverage needs; never the source URL. In a block:
--   rec: one fixed record per camera (big-endian): id int8; x, y, heading_deg, fov_deg,
--        pan_min_deg, pan_max_deg, resolution_px_h float8 (NaN for none); owner_id int8; the
--        byte lengths of kind, heading_source, status and source int4 (-1 for none);
--   kind, heading_source, status, source: the texts one after the other (UTF-8).
-- The owners' names are read apart (snapshot/organization_names).
SELECT blk.*
FROM
    (SELECT min(id) >> 14 AS lo, max(id) >> 14 AS hi FROM camera) AS span,
    generate_series(span.lo, span.hi) AS b (k)
CROSS JOIN LATERAL (
    SELECT
        string_agg(
            int8send(c.id) || float8send(ST_X(c.position)) || float8send(ST_Y(c.position))
            || float8send(coalesce(c.heading_deg, 'NaN'))
            || float8send(coalesce(c.fov_deg, 'NaN'))
            || float8send(coalesce(c.pan_min_deg, 'NaN'))
            || float8send(coalesce(c.pan_max_deg, 'NaN'))
            || float8send(coalesce(c.resolution_px_h::float8, 'NaN'))
            || int8send(c.owner_id)
            || int4send(coalesce(octet_length(convert_to(c.kind, 'UTF8')), -1))
            || int4send(coalesce(octet_length(convert_to(c.heading_source, 'UTF8')), -1))
            || int4send(coalesce(octet_length(convert_to(c.status, 'UTF8')), -1))
            || int4send(coalesce(octet_length(convert_to(c.source, 'UTF8')), -1)),
            ''::bytea
        ) AS rec,
        string_agg(convert_to(coalesce(c.kind, ''), 'UTF8'), ''::bytea) AS kind,
        string_agg(convert_to(coalesce(c.heading_source, ''), 'UTF8'), ''::bytea)
            AS heading_source,
        string_agg(convert_to(coalesce(c.status, ''), 'UTF8'), ''::bytea) AS status,
        string_agg(convert_to(coalesce(c.source, ''), 'UTF8'), ''::bytea) AS source
    FROM camera c
    WHERE c.id >= b.k << 14 AND c.id < (b.k + 1) << 14 AND c.status <> 'retired'
) AS blk
WHERE blk.rec IS NOT NULL
ORDER BY b.k
