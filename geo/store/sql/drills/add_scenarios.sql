-- Scenario points of drill :drill from lon/lat arrays, kept in the working CRS (EPSG:5179).
INSERT INTO drill_scenario (drill_id, name, location)
SELECT :drill, p.name, ST_Transform(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 5179)
FROM unnest(CAST(:names AS text[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
    AS p(name, lon, lat)
ON CONFLICT (drill_id, name) DO NOTHING
