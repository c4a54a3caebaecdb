SELECT id, ST_X(p) AS lon, ST_Y(p) AS lat
FROM (
    SELECT id, ST_Transform(location, 4326) AS p
    FROM drill_scenario
    WHERE drill_id = :drill AND status = ANY(:statuses)
) s
ORDER BY id
