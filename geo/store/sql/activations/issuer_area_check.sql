-- Whether the lon/lat area :wkb lies inside organization :id's service area; if not, how
-- much lies outside (km², working CRS) and a lon/lat point of it.
WITH a AS (SELECT ST_Transform(ST_GeomFromWKB(:wkb, 4326), 5179) AS geom)
SELECT
    o.id, o.name, o.kind,
    o.service_area IS NULL AS missing,
    ST_Covers(o.service_area, a.geom) AS inside,
    ST_Area(ST_Difference(a.geom, o.service_area)) / 1e6 AS outside_km2,
    ST_X(ST_Transform(ST_PointOnSurface(ST_Difference(a.geom, o.service_area)), 4326)) AS lon,
    ST_Y(ST_Transform(ST_PointOnSurface(ST_Difference(a.geom, o.service_area)), 4326)) AS lat
FROM organization o, a
WHERE o.id = :id
