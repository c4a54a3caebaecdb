INSERT INTO organization (name, kind, parent_id, auto_approve_bases)
VALUES (:name, :kind, :parent_id, CAST(:bases AS jsonb))
ON CONFLICT (name) DO NOTHING
RETURNING id
