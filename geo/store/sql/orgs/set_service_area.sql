-- The area arrives as lon/lat WKB and is kept in the working CRS (EPSG:5179).
UPDATE organization
SET service_area = ST_Multi(ST_Transform(ST_GeomFromWKB(:wkb, 4326), 5179))
WHERE id = :id
