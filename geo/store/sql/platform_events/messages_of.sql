SELECT id, status_code, outcome, repeats, received_at, last_received_at
FROM platform_message
WHERE event_id = :event
ORDER BY id
