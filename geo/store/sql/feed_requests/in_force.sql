SELECT i.status AS incident_status,
       a.starts_at <= now() AND a.ends_at > now()
       AND (a.ended_at IS NULL OR a.ended_at > now()) AS in_force
FROM feed_request f
JOIN incident i ON i.id = f.incident_id
JOIN activation a ON a.id = f.activation_id
WHERE f.id = :id
