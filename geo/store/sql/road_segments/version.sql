-- The stored road networks' version: a digest of their ids. Every import that changes roads
-- adds a network (a replaced one is deleted and added again under a new id), and ids only grow,
-- so the digest changes whenever the roads do and never comes back to an earlier value.
SELECT left(md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')), 16) FROM road_network
