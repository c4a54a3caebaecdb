-- Every camera with its owner, coverage parameters and whether its kind was assumed; never
-- the source URL.
SELECT
    c.id, c.source, c.source_key, c.site_key, c.owner_id, o.name AS owner_name, c.kind,
    c.heading_deg, c.heading_source, c.heading_uncertainty_deg, c.fov_deg, c.pan_min_deg,
    c.pan_max_deg, c.resolution_px_h, c.mount_height_m, c.purpose, c.status, c.address,
    c.direction_text,
    coalesce((c.provenance->>'kind_assumed')::boolean, false) AS kind_assumed,
    c.sigungu_code, c.sigungu_name, c.emd_code, c.emd_name,
    c.import_batch_id, ST_AsBinary(c.position) AS wkb
FROM camera c
JOIN organization o ON o.id = c.owner_id
ORDER BY c.id
