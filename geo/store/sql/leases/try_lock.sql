SELECT pg_try_advisory_lock(:k)
