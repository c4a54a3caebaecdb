SELECT
    c.id, c.owner_id, o.name AS owner_name, c.status,
    ST_X(ST_Transform(c.position, 4326)) AS lon,
    ST_Y(ST_Transform(c.position, 4326)) AS lat
FROM camera c
JOIN organization o ON o.id = c.owner_id
WHERE c.id = ANY(CAST(:ids AS bigint[]))
