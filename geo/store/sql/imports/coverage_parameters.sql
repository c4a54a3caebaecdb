-- What coverage needs of the cameras :ids, positions as lon/lat.
SELECT
    id, ST_X(p) AS lon, ST_Y(p) AS lat, kind, heading_deg, heading_source, fov_deg,
    pan_min_deg, pan_max_deg, resolution_px_h
FROM camera, LATERAL ST_Transform(position, 4326) AS p
WHERE id = ANY(:ids)
ORDER BY id
