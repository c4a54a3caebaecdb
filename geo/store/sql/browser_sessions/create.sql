-- A session of key :key_id; it ends :max_s seconds from now at the latest.
INSERT INTO browser_session (api_key_id, token_hash, csrf_hash, expires_at)
VALUES (:key_id, :token_hash, :csrf_hash, now() + make_interval(secs => :max_s))
RETURNING id, expires_at
