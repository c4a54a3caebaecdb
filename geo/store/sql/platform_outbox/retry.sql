-- A delivery failed: try again at :next_at, or give up (:state 'failed').
UPDATE platform_outbox SET
    state = :state, attempts = attempts + 1, next_attempt_at = :next_at, last_error = :error
WHERE id = :id
