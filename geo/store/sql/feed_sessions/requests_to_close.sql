SELECT r.id, r.status, r.requester_id, a.basis, r.incident_id,
       CASE WHEN a.ended_at IS NOT NULL AND a.ended_at <= :now AND a.ended_at < a.ends_at
            THEN 'revoked' ELSE 'expired' END AS end_status
FROM feed_request r
JOIN activation a ON a.id = r.activation_id
WHERE r.status IN ('pending', 'approved')
  AND (a.ends_at <= :now OR (a.ended_at IS NOT NULL AND a.ended_at <= :now))
ORDER BY r.id
FOR UPDATE OF r SKIP LOCKED
