-- The live session whose cookie digests to :token_hash, with its key and organization: not
-- signed out, not past its end, used within :idle_s seconds, and its key not revoked.
SELECT s.id, s.csrf_hash, s.expires_at, s.last_seen_at < now() - make_interval(secs => :touch_s)
       AS stale, k.id AS key_id, k.prefix, k.role, o.id AS org_id, o.name, o.kind
FROM browser_session s
JOIN api_key k ON k.id = s.api_key_id
JOIN organization o ON o.id = k.organization_id
WHERE s.token_hash = :token_hash
  AND s.ended_at IS NULL
  AND s.expires_at > now()
  AND s.last_seen_at > now() - make_interval(secs => :idle_s)
  AND k.revoked_at IS NULL
