SELECT o.id, p.code AS platform_code, o.event_id, o.target_url, o.body, o.state, o.attempts,
       o.next_attempt_at, o.last_error, o.created_at, o.delivered_at
FROM platform_outbox o
JOIN platform p ON p.id = o.platform_id
WHERE o.id > :after_id AND (CAST(:state AS text) IS NULL OR o.state = :state)
ORDER BY o.id
LIMIT :limit
