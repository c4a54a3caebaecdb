-- How many non-retired cameras lie in the box: cameras/in_bbox.sql's filter (its comment says
-- why the box arrives projected and why each part is a scalar subquery), without the paging.
SELECT count(*)
FROM camera c
WHERE c.position && (SELECT ST_GeomFromWKB(:outline, 5179))
  AND (
    c.position @ (SELECT ST_MakeEnvelope(:ix0, :iy0, :ix1, :iy1, 5179))
    OR ST_Intersects(c.position, (SELECT ST_GeomFromWKB(:outline, 5179)))
  )
  AND c.status <> 'retired'
