DELETE FROM rate_limit_counter WHERE expires_at <= clock_timestamp()
