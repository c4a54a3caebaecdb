-- What the login role could change: is it a superuser, or (directly or through membership)
-- the owner of the audit table, its schema or the database?
SELECT
    session_user AS login,
    r.rolsuper AS superuser,
    pg_has_role(session_user, c.relowner, 'MEMBER') AS owns_tables,
    pg_has_role(session_user, n.nspowner, 'MEMBER') AS owns_schema,
    pg_has_role(session_user, d.datdba, 'MEMBER') AS owns_database
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace,
    pg_database d,
    pg_roles r
WHERE c.oid = to_regclass('audit_record')
  AND d.datname = current_database()
  AND r.rolname = session_user
