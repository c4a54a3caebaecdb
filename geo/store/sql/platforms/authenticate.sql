-- A platform by its key's prefix and the SHA-256 of the whole key; disabled ones never match.
SELECT id, code, name, key_prefix, callback_url, created_at, disabled_at
FROM platform
WHERE key_prefix = :prefix AND key_hash = :key_hash AND disabled_at IS NULL
