SELECT camera_id, level, range_m, confidence, ST_AsBinary(geom) AS wkb
FROM coverage
ORDER BY camera_id, level
