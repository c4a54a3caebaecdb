-- The oldest message due for delivery, locked: another sender skips it.
SELECT id, platform_id, event_id, target_url, body, attempts
FROM platform_outbox
WHERE state = 'pending' AND next_attempt_at <= :now
ORDER BY next_attempt_at, id
LIMIT 1
FOR UPDATE SKIP LOCKED
