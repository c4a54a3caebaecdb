-- Whether a pending or approved request outlived its activation: requests_to_close.sql's rule.
SELECT EXISTS (
    SELECT 1
    FROM feed_request r
    JOIN activation a ON a.id = r.activation_id
    WHERE r.status IN ('pending', 'approved')
      AND (a.ends_at <= :now OR (a.ended_at IS NOT NULL AND a.ended_at <= :now))
)
