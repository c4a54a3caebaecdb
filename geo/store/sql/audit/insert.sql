INSERT INTO audit_record (
    id, at, actor, organization_id, action, subject_type, subject_id, legal_basis, details,
    prev_hash, record_hash
)
VALUES (
    :id, :at, :actor, :organization_id, :action, :subject_type, :subject_id, :legal_basis,
    CAST(:details_json AS jsonb), :prev_hash, :record_hash
)
