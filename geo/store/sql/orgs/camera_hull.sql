-- The owner's cameras in service and their convex hull widened by :buffer metres, lon/lat.
SELECT
    count(*) AS cameras,
    ST_AsBinary(ST_Transform(ST_Multi(ST_Buffer(ST_ConvexHull(ST_Collect(position)), :buffer)),
                             4326)) AS hull
FROM camera
WHERE owner_id = :id AND status <> 'retired'
