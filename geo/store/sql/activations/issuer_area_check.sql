-- Whether the lon/lat area :wkb lies inside organization :id's service area; if not, how
-- much lies outside (km², working CRS) and a lon/lat point of it. Less than 1 m² outside
-- counts as inside: it is the rounding of two unions of the same boundaries, each projected
-- to lon/lat and back (an activation over the 시군구 of a centre's own area leaves slivers
-- of about 1e-9 degrees along the shared borders).
WITH a AS (SELECT ST_Transform(ST_GeomFromWKB(:wkb, 4326), 5179) AS geom),
d AS (
    SELECT o.id, o.name, o.kind, o.service_area, ST_Difference(a.geom, o.service_area) AS outside,
        ST_Covers(o.service_area, a.geom) AS covered
    FROM organization o, a
    WHERE o.id = :id
)
SELECT
    id, name, kind,
    service_area IS NULL AS missing,
    covered OR ST_Area(outside) < 1.0 AS inside,
    ST_Area(outside) / 1e6 AS outside_km2,
    ST_X(ST_Transform(ST_PointOnSurface(outside), 4326)) AS lon,
    ST_Y(ST_Transform(ST_PointOnSurface(outside), 4326)) AS lat
FROM d
