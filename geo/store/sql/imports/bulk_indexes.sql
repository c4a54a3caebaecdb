-- The secondary indexes of table :t that back no constraint, with the statements that drop
-- and re-create each.
SELECT
    format('DROP INDEX %s', i.oid::regclass) AS drop_ddl,
    pg_get_indexdef(i.oid) AS add_ddl
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = CAST(:t AS regclass)
  AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
