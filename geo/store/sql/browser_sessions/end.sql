UPDATE browser_session SET ended_at = now() WHERE id = :id AND ended_at IS NULL RETURNING id
