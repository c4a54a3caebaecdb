SELECT n.id, b.file_sha256
FROM road_network n
LEFT JOIN import_batch b ON b.id = n.import_batch_id
WHERE n.name = :name
