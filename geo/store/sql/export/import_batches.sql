SELECT
    id, kind, file_name, file_sha256, rows_read, rows_imported, rows_merged, rows_rejected,
    rows_already_present, report, started_at, finished_at
FROM import_batch
ORDER BY id
