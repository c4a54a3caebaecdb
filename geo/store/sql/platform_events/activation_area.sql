-- A platform situation moved: the activation its policy made covers the new area (lon/lat WKB).
UPDATE activation SET area = ST_Multi(ST_Transform(ST_GeomFromWKB(:wkb, 4326), 5179))
WHERE id = :id
