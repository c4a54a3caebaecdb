UPDATE feed_session SET last_error = :error WHERE id = :id
