-- The owner's cameras in service inside the lon/lat area :wkb (none when it is NULL), and all.
SELECT
    count(*) FILTER (
        WHERE CAST(:wkb AS bytea) IS NOT NULL
          AND ST_Covers(ST_Transform(ST_GeomFromWKB(CAST(:wkb AS bytea), 4326), 5179), position)
    ) AS inside,
    count(*) AS total
FROM camera
WHERE owner_id = :id AND status <> 'retired'
