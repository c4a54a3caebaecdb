-- Every camera that is not retired, as a few hundred rows of packed columns (see
-- road_segment_blocks.sql): position in the working CRS and what coverage needs; never the
-- source URL. A missing number is NaN; a text's byte length is -1 where it is missing.
SELECT blk.*
FROM (SELECT min(id) >> 14 AS lo, max(id) >> 14 AS hi FROM camera) AS span,
    generate_series(span.lo, span.hi) AS b (k)
CROSS JOIN LATERAL (
    SELECT
    string_agg(int8send(c.id), ''::bytea) AS id,
        string_agg(float8send(ST_X(c.position)), ''::bytea) AS x,
        string_agg(float8send(ST_Y(c.position)), ''::bytea) AS y,
        string_agg(float8send(coalesce(c.heading_deg, 'NaN')), ''::bytea) AS heading_deg,
        string_agg(float8send(coalesce(c.fov_deg, 'NaN')), ''::bytea) AS fov_deg,
        string_agg(float8send(coalesce(c.pan_min_deg, 'NaN')), ''::bytea) AS pan_min_deg,
        string_agg(float8send(coalesce(c.pan_max_deg, 'NaN')), ''::bytea) AS pan_max_deg,
        string_agg(float8send(coalesce(c.resolution_px_h::float8, 'NaN')), ''::bytea) AS resolution_px_h,
        string_agg(int8send(c.owner_id), ''::bytea) AS owner_id,
        string_agg(int4send(coalesce(octet_length(convert_to(c.kind, 'UTF8')), -1)), ''::bytea) AS kind_len,
        string_agg(convert_to(coalesce(c.kind, ''), 'UTF8'), ''::bytea) AS kind,
        string_agg(int4send(coalesce(octet_length(convert_to(c.heading_source, 'UTF8')), -1)), ''::bytea) AS heading_source_len,
        string_agg(convert_to(coalesce(c.heading_source, ''), 'UTF8'), ''::bytea) AS heading_source,
        string_agg(int4send(coalesce(octet_length(convert_to(c.status, 'UTF8')), -1)), ''::bytea) AS status_len,
        string_agg(convert_to(coalesce(c.status, ''), 'UTF8'), ''::bytea) AS status,
        string_agg(int4send(coalesce(octet_length(convert_to(o.name, 'UTF8')), -1)), ''::bytea) AS owner_name_len,
        string_agg(convert_to(coalesce(o.name, ''), 'UTF8'), ''::bytea) AS owner_name,
        string_agg(int4send(coalesce(octet_length(convert_to(c.source, 'UTF8')), -1)), ''::bytea) AS source_len,
        string_agg(convert_to(coalesce(c.source, ''), 'UTF8'), ''::bytea) AS source
    FROM camera c
    JOIN organization o ON o.id = c.owner_id
    WHERE c.id >= b.k << 14 AND c.id < (b.k + 1) << 14 AND c.status <> 'retired'
) AS blk
WHERE blk.id IS NOT NULL
ORDER BY b.k
