UPDATE browser_session SET last_seen_at = now() WHERE id = :id
