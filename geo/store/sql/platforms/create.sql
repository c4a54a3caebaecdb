INSERT INTO platform (code, name, key_prefix, key_hash, callback_url)
VALUES (:code, :name, :prefix, :key_hash, :callback_url)
RETURNING id
