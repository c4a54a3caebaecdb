-- The last import batch, camera and road network ids: index lookups. A camera a centre added
-- (logged as 'added' in camera_change) reaches every process as a live change, not a new
-- version: the newest camera not added that way counts.
SELECT
    (SELECT coalesce(max(id), 0) FROM import_batch),
    coalesce((
        SELECT c.id FROM camera c
        WHERE NOT EXISTS (
            SELECT 1 FROM camera_change x WHERE x.camera_id = c.id AND x.change = 'added'
        )
        ORDER BY c.id DESC LIMIT 1
    ), 0),
    (SELECT coalesce(max(id), 0) FROM road_network)
