-- One camera's changes, newest first.
SELECT id AS seq, change, via, actor, organization_id, previous, current, reason, changed_at
FROM camera_change
WHERE camera_id = :camera_id
ORDER BY id DESC
LIMIT :limit
