INSERT INTO platform_outbox (platform_id, event_id, target_url, body)
VALUES (:platform, :event, :target_url, CAST(:body AS jsonb))
RETURNING id
