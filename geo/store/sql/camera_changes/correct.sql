-- A camera's corrected columns (each given whole: the caller merged them with the old ones).
UPDATE camera
SET kind = :kind, heading_deg = :heading_deg, heading_source = :heading_source,
    fov_deg = :fov_deg, status = :status, status_reason = :status_reason,
    status_since = CASE WHEN :status_changed THEN now() ELSE status_since END,
    position = ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179)
WHERE id = :id
