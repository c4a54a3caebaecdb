-- Whether session :id may still be used (an event stream checks it as it runs).
SELECT EXISTS (
    SELECT 1
    FROM browser_session s
    JOIN api_key k ON k.id = s.api_key_id
    WHERE s.id = :id AND s.ended_at IS NULL AND s.expires_at > now()
      AND s.last_seen_at > now() - make_interval(secs => :idle_s) AND k.revoked_at IS NULL
)
