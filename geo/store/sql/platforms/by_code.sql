SELECT id, code, name, key_prefix, callback_url, created_at, disabled_at
FROM platform
WHERE code = :code
