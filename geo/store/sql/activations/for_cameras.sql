-- Per camera among :ids, the activation in force at :at covering both its position and the
-- lon/lat point; the one in force longest, then the oldest.
SELECT DISTINCT ON (c.id)
    c.id AS camera_id,
    a.id, a.basis, a.reference, a.issuer_id, o.name AS issuer_name,
    ST_AsGeoJSON(ST_Transform(a.area, 4326), 7) AS area_geojson,
    a.starts_at, a.ends_at, a.ended_at, a.created_at
FROM camera c
JOIN activation a ON ST_Covers(a.area, c.position)
JOIN organization o ON o.id = a.issuer_id
WHERE c.id = ANY(CAST(:ids AS bigint[]))
  AND a.starts_at <= :at AND a.ends_at > :at AND (a.ended_at IS NULL OR a.ended_at > :at)
  AND ST_Covers(a.area, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179))
ORDER BY c.id, LEAST(a.ends_at, COALESCE(a.ended_at, a.ends_at)) DESC, a.id
