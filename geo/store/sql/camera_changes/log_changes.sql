-- Changes to log, one row per camera; returns their sequence numbers in input order.
INSERT INTO camera_change (camera_id, organization_id, actor, via, change, previous, current,
                           reason)
SELECT t.camera_id, :org, :actor, :via, t.change, t.previous, t.current, t.reason
FROM unnest(
    CAST(:camera_ids AS bigint[]), CAST(:changes AS text[]), CAST(:previous AS jsonb[]),
    CAST(:current AS jsonb[]), CAST(:reasons AS text[])
) WITH ORDINALITY AS t(camera_id, change, previous, current, reason, n)
ORDER BY t.n
RETURNING id
