SELECT k.id, k.prefix, k.role, k.key_hash, o.id AS org_id, o.name, o.kind
FROM api_key k
JOIN organization o ON o.id = k.organization_id
WHERE k.prefix = :prefix AND k.revoked_at IS NULL
