-- The camera (retired or not) already holding a centre-added camera's key, if any.
SELECT id, status FROM camera WHERE source = 'manual' AND source_key = :source_key
