UPDATE platform SET disabled_at = now() WHERE code = :code AND disabled_at IS NULL
RETURNING id
