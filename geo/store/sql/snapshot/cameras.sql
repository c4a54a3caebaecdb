-- Every camera that is not retired: position (working CRS) and what coverage needs; never
-- the source URL. As CSV with a header line, which snapshot._copy_out parses with Arrow.
COPY (
    SELECT
        c.id, ST_X(c.position) AS x, ST_Y(c.position) AS y, c.kind, c.heading_deg,
        c.heading_source, c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h, c.status,
        c.owner_id, o.name AS owner_name, c.source
    FROM camera c
    JOIN organization o ON o.id = c.owner_id
    WHERE c.status <> 'retired'
    ORDER BY c.id
) TO STDOUT (FORMAT csv, HEADER)
