UPDATE feed_request SET status = :status, reason = :reason WHERE id = :id
