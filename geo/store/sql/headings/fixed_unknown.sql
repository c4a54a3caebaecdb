SELECT id, ST_X(position) AS x, ST_Y(position) AS y
FROM camera
WHERE kind = 'fixed' AND heading_source = 'unknown'
ORDER BY id
