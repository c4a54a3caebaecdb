SELECT
    a.id, a.basis, a.reference, a.issuer_id, o.name AS issuer_name,
    ST_AsGeoJSON(ST_Transform(a.area, 4326), 7) AS area_geojson,
    a.starts_at, a.ends_at, a.ended_at, a.created_at
FROM activation a
JOIN organization o ON o.id = a.issuer_id
WHERE a.id = :id
