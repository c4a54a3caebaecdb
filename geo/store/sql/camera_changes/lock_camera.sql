-- One camera as a correction sees it (position as lon/lat), locked; none unless the owner
-- matches (:owner NULL: any owner).
SELECT c.id, c.owner_id, c.kind, c.heading_deg, c.heading_source, c.fov_deg, c.status,
       c.status_reason, ST_X(p) AS lon, ST_Y(p) AS lat
FROM camera c, LATERAL ST_Transform(c.position, 4326) AS p
WHERE c.id = ANY(CAST(:ids AS bigint[]))
  AND (c.owner_id = :owner OR CAST(:owner AS integer) IS NULL)
ORDER BY c.id
FOR UPDATE OF c
