-- Every road network, largest extent first.
SELECT id, name, ST_AsBinary(extent) AS extent
FROM road_network
ORDER BY ST_Area(extent) DESC, id
