-- Up to :limit cameras that are not retired with ids above :after, in id order, as packed
-- binary columns in one row (snapshot.read_cameras unpacks them with numpy): numbers as
-- big-endian int8 / float8 (NULL as NaN); the text columns as 1-based dense ranks (int4) into
-- the chunk's sorted distinct values (NULL last). Never the source URL. The same columns as
-- snapshot/cameras.sql.
WITH chunk AS MATERIALIZED (
    SELECT
        c.id, ST_X(c.position) AS x, ST_Y(c.position) AS y, c.kind, c.heading_deg,
        c.heading_source, c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h, c.status,
        c.owner_id, o.name AS owner_name, c.source
    FROM camera c
    JOIN organization o ON o.id = c.owner_id
    WHERE c.status <> 'retired' AND c.id > :after
    ORDER BY c.id
    LIMIT :limit
)
SELECT
    count(*) AS n,
    max(id) AS last_id,
    string_agg(int8send(id), ''::bytea) AS id,
    string_agg(float8send(x), ''::bytea) AS x,
    string_agg(float8send(y), ''::bytea) AS y,
    string_agg(float8send(coalesce(heading_deg::float8, 'NaN')), ''::bytea) AS heading_deg,
    string_agg(float8send(coalesce(fov_deg::float8, 'NaN')), ''::bytea) AS fov_deg,
    string_agg(float8send(coalesce(pan_min_deg::float8, 'NaN')), ''::bytea) AS pan_min_deg,
    string_agg(float8send(coalesce(pan_max_deg::float8, 'NaN')), ''::bytea) AS pan_max_deg,
    string_agg(float8send(coalesce(resolution_px_h::float8, 'NaN')), ''::bytea)
        AS resolution_px_h,
    string_agg(int8send(owner_id), ''::bytea) AS owner_id,
    string_agg(int4send(kind_rank::int4), ''::bytea) AS kind,
    string_agg(int4send(heading_source_rank::int4), ''::bytea) AS heading_source,
    string_agg(int4send(status_rank::int4), ''::bytea) AS status,
    string_agg(int4send(owner_name_rank::int4), ''::bytea) AS owner_name,
    string_agg(int4send(source_rank::int4), ''::bytea) AS source,
    (SELECT array_agg(DISTINCT c.kind::text ORDER BY c.kind::text) FROM chunk c) AS kind_values,
    (SELECT array_agg(DISTINCT c.heading_source::text ORDER BY c.heading_source::text)
        FROM chunk c) AS heading_source_values,
    (SELECT array_agg(DISTINCT c.status::text ORDER BY c.status::text) FROM chunk c)
        AS status_values,
    (SELECT array_agg(DISTINCT c.owner_name::text ORDER BY c.owner_name::text) FROM chunk c)
        AS owner_name_values,
    (SELECT array_agg(DISTINCT c.source::text ORDER BY c.source::text) FROM chunk c)
        AS source_values
FROM (
    SELECT
        c.*,
        dense_rank() OVER (ORDER BY c.kind::text) AS kind_rank,
        dense_rank() OVER (ORDER BY c.heading_source::text) AS heading_source_rank,
        dense_rank() OVER (ORDER BY c.status::text) AS status_rank,
        dense_rank() OVER (ORDER BY c.owner_name::text) AS owner_name_rank,
        dense_rank() OVER (ORDER BY c.source::text) AS source_rank
    FROM chunk c
    ORDER BY c.id
) s
