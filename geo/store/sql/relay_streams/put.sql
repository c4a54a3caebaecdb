INSERT INTO relay_stream (relay_stream_id, backend, key, viewer_org, expires_at, created_at, state)
VALUES (:relay_stream_id, :backend, :key, :viewer_org, :expires_at, :created_at, :state)
ON CONFLICT (relay_stream_id) DO UPDATE
SET backend = EXCLUDED.backend, key = EXCLUDED.key, viewer_org = EXCLUDED.viewer_org,
    expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at, state = EXCLUDED.state
