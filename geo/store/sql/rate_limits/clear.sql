DELETE FROM rate_limit_counter WHERE key = :key
