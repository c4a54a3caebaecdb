-- A batch of reported statuses in one statement: the caller's own, non-retired cameras among
-- :ids are locked in id order, those whose status or reason differs are updated (since now)
-- and logged; one row per input item says what became of it.
WITH input AS (
    SELECT t.n, t.id, t.status, t.reason
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:reasons AS text[])
    ) WITH ORDINALITY AS t(id, status, reason, n)
),
target AS (
    SELECT c.id, c.status AS old_status, c.status_reason AS old_reason,
           c.status_since AS old_since, i.status, i.reason
    FROM camera c
    JOIN input i ON i.id = c.id
    WHERE (c.owner_id = :owner OR CAST(:owner AS integer) IS NULL) AND c.status <> 'retired'
    ORDER BY c.id
    FOR UPDATE OF c
),
changed AS (
    UPDATE camera c
    SET status = t.status, status_reason = t.reason, status_since = now()
    FROM target t
    WHERE c.id = t.id AND (t.old_status, t.old_reason) IS DISTINCT FROM (t.status, t.reason)
    RETURNING c.id, t.old_status, t.old_reason, t.old_since, t.status, t.reason
),
logged AS (
    INSERT INTO camera_change (camera_id, organization_id, actor, via, change, previous,
                               current, reason)
    SELECT id, :org, :actor, :via, 'status',
           jsonb_build_object('status', old_status, 'reason', old_reason, 'since', old_since),
           jsonb_build_object('status', status, 'reason', reason), reason
    FROM changed
    RETURNING id, camera_id
)
SELECT i.n, i.id, t.id IS NOT NULL AS found, l.id AS seq,
       coalesce(t.old_status, '') AS previous
FROM input i
LEFT JOIN target t ON t.id = i.id
LEFT JOIN logged l ON l.camera_id = i.id
ORDER BY i.n
