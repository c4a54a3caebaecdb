-- The last import batch, camera and road network ids: three index lookups.
SELECT
    (SELECT coalesce(max(id), 0) FROM import_batch),
    (SELECT coalesce(max(id), 0) FROM camera),
    (SELECT coalesce(max(id), 0) FROM road_network)
