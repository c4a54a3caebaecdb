-- The centres incident :id involves: owners of the cameras on its record or asked for, the
-- regional centres its requests are routed through, and every centre above those owners.
WITH RECURSIVE direct(id) AS (
    SELECT owner_id FROM feed_request WHERE incident_id = :id
    UNION
    SELECT routed_via_id FROM feed_request WHERE incident_id = :id AND routed_via_id IS NOT NULL
    UNION
    SELECT c.owner_id
    FROM approach a
    CROSS JOIN LATERAL jsonb_array_elements(a.cameras) AS e(cam)
    JOIN camera c ON c.id = CAST(e.cam ->> 'camera_id' AS bigint)
    WHERE a.incident_id = :id
),
chain(id, depth) AS (
    SELECT id, 0 FROM direct
    UNION
    SELECT o.parent_id, chain.depth + 1
    FROM chain
    JOIN organization o ON o.id = chain.id
    WHERE o.parent_id IS NOT NULL AND chain.depth < 16
)
SELECT DISTINCT chain.id
FROM chain
JOIN organization o ON o.id = chain.id
WHERE o.kind IN ('municipal_centre', 'regional_centre')
