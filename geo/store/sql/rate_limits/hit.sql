-- Add :amount hits to :key's live window, or open a window of :window_s seconds; the
-- window's hits after these and when it ends (seconds since the epoch).
INSERT INTO rate_limit_counter AS r (key, hits, expires_at)
VALUES (:key, :amount, clock_timestamp() + make_interval(secs => :window_s))
ON CONFLICT (key) DO UPDATE SET
    hits = CASE
        WHEN r.expires_at > clock_timestamp() THEN r.hits + EXCLUDED.hits
        ELSE EXCLUDED.hits
    END,
    expires_at = CASE
        WHEN r.expires_at > clock_timestamp() THEN r.expires_at
        ELSE EXCLUDED.expires_at
    END
RETURNING hits, extract(epoch FROM expires_at) AS ends_at
