-- The first regional centre up the owner's parent chain (start 0), else up the requester's (1).
WITH RECURSIVE chain(start, id, depth) AS (
    SELECT s.start, s.id, 0
    FROM (VALUES (0, CAST(:owner AS int)), (1, CAST(:requester AS int))) AS s(start, id)
    UNION ALL
    SELECT c.start, o.parent_id, c.depth + 1
    FROM chain c
    JOIN organization o ON o.id = c.id
    WHERE o.parent_id IS NOT NULL AND c.depth < 16
)
SELECT c.id
FROM chain c
JOIN organization o ON o.id = c.id
WHERE o.kind = 'regional_centre'
ORDER BY c.start, c.depth
LIMIT 1
