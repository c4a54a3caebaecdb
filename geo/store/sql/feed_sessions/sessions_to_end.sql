-- The one rule for when a live feed session must end, and why: its expiry reached, its
-- activation ended or ran out, its incident closed, its camera retired (removed from the
-- registry by any path), or its request no longer provisioned.
-- :id NULL gives every such session (the expiry loop), a session id just that one (a
-- credential re-issue, which already holds the session's lock). Locked rows another
-- transaction holds are skipped; the caller's own locks are not.
SELECT s.id, s.feed_request_id, s.relay_name, s.relay_stream_id, s.expires_at,
       r.status AS request_status, r.incident_id, r.camera_id, c.source_url, r.requester_id,
       o.name AS requester_name, r.activation_id, a.basis, s.last_error, s.created_at,
       CASE WHEN s.expires_at <= :now THEN 'expired'
            WHEN a.ended_at IS NOT NULL AND a.ended_at <= :now THEN 'revoked'
            WHEN a.ends_at <= :now THEN 'expired'
            ELSE 'revoked' END AS end_status,
       CASE WHEN s.expires_at <= :now THEN 'the session reached its expiry'
            WHEN a.ended_at IS NOT NULL AND a.ended_at <= :now
                THEN 'the activation (legal basis) ended'
            WHEN a.ends_at <= :now THEN 'the activation (legal basis) ran out'
            WHEN i.status <> 'open' THEN 'the incident was closed'
            WHEN c.status = 'retired' THEN 'the camera was removed from the registry'
            ELSE 'the feed request was ' || r.status END AS end_reason
FROM feed_session s
JOIN feed_request r ON r.id = s.feed_request_id
JOIN incident i ON i.id = r.incident_id
JOIN camera c ON c.id = r.camera_id
JOIN organization o ON o.id = r.requester_id
JOIN activation a ON a.id = r.activation_id
WHERE
    s.status = 'live'
    AND (CAST(:id AS bigint) IS NULL OR s.id = CAST(:id AS bigint))
    AND (s.expires_at <= :now
         OR (a.ended_at IS NOT NULL AND a.ended_at <= :now) OR a.ends_at <= :now
         OR i.status <> 'open' OR c.status = 'retired' OR r.status <> 'provisioned')
ORDER BY s.id
FOR UPDATE OF s, r SKIP LOCKED
