-- The area arrives as lon/lat WKB and is kept in the working CRS (EPSG:5179).
INSERT INTO activation (basis, reference, issuer_id, area, starts_at, ends_at)
VALUES (
    :basis, :reference, :issuer,
    ST_Multi(ST_Transform(ST_GeomFromWKB(:wkb, 4326), 5179)),
    :starts_at, :ends_at
)
RETURNING id
