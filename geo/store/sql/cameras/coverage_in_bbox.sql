-- The box arrives projected (geo.crs.projected_box): :outline, its outline as WKB, and the
-- rectangle :ix0 :iy0 :ix1 :iy1 inside it. Each is a scalar subquery (an InitPlan) built once per
-- statement, whose value the GiST index condition takes: a projection written inline cannot be
-- folded to a constant in a generic plan (psycopg prepares a statement after its fifth run on a
-- connection) and was computed again for every row the index returned (issue 12: a 0.5 degree
-- box over Seoul went from 35 ms to 6-7 s). What lies in the inner rectangle needs no exact test.
-- The ids are paged first (index, filter, top-N by id), and only the page is joined and encoded.
-- Retired cameras are left out by an anti-join on their small partial index (ix_camera_retired):
-- a join reading every candidate's camera row took half the time of a large box.
WITH page AS MATERIALIZED (
    SELECT v.id
    FROM coverage v
    WHERE NOT EXISTS (
        SELECT 1 FROM camera r WHERE r.id = v.camera_id AND r.status = 'retired'
    )
      AND v.geom && (SELECT ST_GeomFromWKB(:outline, 5179))
      AND (
        v.geom @ (SELECT ST_MakeEnvelope(:ix0, :iy0, :ix1, :iy1, 5179))
        OR ST_Intersects(v.geom, (SELECT ST_GeomFromWKB(:outline, 5179)))
      )
      AND v.level = :level
      AND v.id > :after
    ORDER BY v.id
    LIMIT :limit
)
SELECT
    v.id, v.camera_id, v.level, v.range_m, v.confidence, c.kind, c.status, c.owner_id,
    ST_AsGeoJSON(ST_Transform(v.geom, 4326), 7) AS geometry
FROM page
JOIN coverage v ON v.id = page.id
JOIN camera c ON c.id = v.camera_id
ORDER BY v.id
