-- Which database this is, for the name of its snapshot folder: the server's address and port,
-- the database's name and oid (a database dropped and made again gets a new oid).
SELECT
    coalesce(host(inet_server_addr()), 'local') AS host,
    coalesce(inet_server_port(), 0) AS port,
    d.datname AS name,
    d.oid::bigint AS oid
FROM pg_database d
WHERE d.datname = current_database()
