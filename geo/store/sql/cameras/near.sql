-- The cameras among :ids within :r metres of (:lon, :lat).
SELECT id
FROM camera
WHERE id = ANY(CAST(:ids AS bigint[]))
  AND ST_DWithin(position, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), :r)
