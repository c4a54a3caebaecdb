SELECT id FROM feed_request WHERE status = 'approved'
ORDER BY decided_at NULLS FIRST, id LIMIT :limit
