-- The scenarios of drill :drill after id :after, lon/lat, in id order; :limit NULL is all.
SELECT
    id, name, ST_X(p) AS lon, ST_Y(p) AS lat, status, approaches, blind, incomplete, result,
    error, computed_at
FROM (
    SELECT *, ST_Transform(location, 4326) AS p
    FROM drill_scenario
    WHERE drill_id = :drill AND id > :after
) s
ORDER BY id
LIMIT :limit
