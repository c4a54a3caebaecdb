-- Whether some live session must end: the rule of sessions_to_end.sql, without locks.
SELECT EXISTS (
    SELECT 1
    FROM feed_session s
    JOIN feed_request r ON r.id = s.feed_request_id
    JOIN incident i ON i.id = r.incident_id
    JOIN activation a ON a.id = r.activation_id
    JOIN camera c ON c.id = r.camera_id
    WHERE s.status = 'live'
      AND (s.expires_at <= :now
           OR (a.ended_at IS NOT NULL AND a.ended_at <= :now) OR a.ends_at <= :now
           OR i.status <> 'open' OR c.status = 'retired' OR r.status <> 'provisioned')
)
