SELECT
    id, at, actor, organization_id, action, subject_type, subject_id, legal_basis, details,
    prev_hash, record_hash
FROM audit_record
ORDER BY id
