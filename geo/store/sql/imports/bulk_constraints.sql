-- The unique and foreign keys of table :t, with the statements that drop and re-add each
-- (unique keys first: foreign keys may rest on them).
SELECT
    format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop_ddl,
    format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
           pg_get_constraintdef(oid)) AS add_ddl
FROM pg_constraint
WHERE conrelid = CAST(:t AS regclass) AND contype IN ('u', 'f')
ORDER BY contype DESC
