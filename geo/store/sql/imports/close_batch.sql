UPDATE import_batch SET
    rows_read = :read,
    rows_imported = :imported,
    rows_merged = :merged,
    rows_rejected = :rejected,
    rows_already_present = :present,
    report = CAST(:report AS jsonb),
    finished_at = clock_timestamp()
WHERE id = :id
