SELECT id, name, source_format, ST_AsBinary(extent) AS wkb
FROM road_network
ORDER BY id
