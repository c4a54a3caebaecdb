SELECT record_hash FROM audit_record WHERE id = :id
