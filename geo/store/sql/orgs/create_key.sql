INSERT INTO api_key (organization_id, role, label, prefix, key_hash)
VALUES (:org, :role, :label, :prefix, :hash)
RETURNING id
