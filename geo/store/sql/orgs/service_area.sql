SELECT ST_AsGeoJSON(ST_Transform(service_area, 4326), 7)
FROM organization
WHERE id = :id AND service_area IS NOT NULL
