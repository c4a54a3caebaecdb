-- Every camera with its owner, coverage parameters, whether its kind was assumed, and its
-- state as of the export: status, why and since when, the heading's source, the newest change
-- made to it (camera_change id, 0: none since import) and the newest that set its heading, with
-- how it came (api, survey, cli, …; '' when the heading is the import's); never the source URL.
SELECT
    c.id, c.source, c.source_key, c.site_key, c.owner_id, o.name AS owner_name, c.kind,
    c.heading_deg, c.heading_source, c.heading_uncertainty_deg, c.fov_deg, c.pan_min_deg,
    c.pan_max_deg, c.resolution_px_h, c.mount_height_m, c.purpose, c.status,
    c.status_reason,
    coalesce(to_char(c.status_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '')
        AS status_since,
    coalesce((SELECT max(x.id) FROM camera_change x WHERE x.camera_id = c.id), 0)
        AS last_change_seq,
    coalesce(h.id, 0) AS heading_change_seq, coalesce(h.via, '') AS heading_via,
    c.address, c.direction_text,
    coalesce((c.provenance->>'kind_assumed')::boolean, false) AS kind_assumed,
    c.sigungu_code, c.sigungu_name, c.emd_code, c.emd_name,
    c.import_batch_id, ST_AsBinary(c.position) AS wkb
FROM camera c
JOIN organization o ON o.id = c.owner_id
LEFT JOIN LATERAL (
    SELECT x.id, x.via FROM camera_change x
    WHERE x.camera_id = c.id AND x.current -> 'heading_deg' IS NOT NULL
    ORDER BY x.id DESC LIMIT 1
) h ON true
ORDER BY c.id
