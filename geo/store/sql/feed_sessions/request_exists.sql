SELECT EXISTS (SELECT 1 FROM feed_request WHERE id = :id)
