INSERT INTO drill (name, options, source_file)
VALUES (:name, CAST(:options AS jsonb), :source)
ON CONFLICT (name) DO NOTHING
RETURNING id
