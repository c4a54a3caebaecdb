SELECT hits FROM rate_limit_counter WHERE key = :key AND expires_at > clock_timestamp()
