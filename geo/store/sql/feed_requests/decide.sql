UPDATE feed_request
SET status = :status, reason = :reason, decided_by = :key, decided_at = now()
WHERE id = :id AND status = 'pending'
RETURNING id
