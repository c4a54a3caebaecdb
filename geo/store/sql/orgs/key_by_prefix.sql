SELECT
    k.id, k.prefix, k.role, k.label, k.organization_id, o.name AS organization_name,
    k.created_at, k.revoked_at
FROM api_key k
JOIN organization o ON o.id = k.organization_id
WHERE k.prefix = :prefix
