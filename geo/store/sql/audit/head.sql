-- The time now, :details as PostgreSQL stores them, and the chain's head (last id, its hash).
SELECT
    clock_timestamp() AS now,
    CAST(:details AS jsonb) AS details,
    (SELECT id FROM audit_record ORDER BY id DESC LIMIT 1) AS last_id,
    (SELECT record_hash FROM audit_record ORDER BY id DESC LIMIT 1) AS last_hash
