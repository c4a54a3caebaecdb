UPDATE api_key SET revoked_at = now() WHERE id = :id
