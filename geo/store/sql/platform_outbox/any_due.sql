SELECT EXISTS (
    SELECT 1 FROM platform_outbox WHERE state = 'pending' AND next_attempt_at <= :now
)
