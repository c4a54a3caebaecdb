UPDATE feed_session SET status = :status, ended_at = :at, last_error = :error WHERE id = :id
