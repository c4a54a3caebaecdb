INSERT INTO import_batch (
    kind, file_name, file_sha256, rows_read, rows_imported, rows_merged, rows_rejected,
    rows_already_present, report, started_at, finished_at
)
VALUES (:kind, :file_name, :sha, 0, 0, 0, 0, 0, '{}', now(), now())
RETURNING id
