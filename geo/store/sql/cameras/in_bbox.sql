-- The box arrives projected (geo.crs.projected_box): :outline, its outline as WKB, and the
-- rectangle :ix0 :iy0 :ix1 :iy1 inside it. Each is a scalar subquery (an InitPlan) built once per
-- statement, whose value the GiST index condition takes: a projection written inline cannot be
-- folded to a constant in a generic plan (psycopg prepares a statement after its fifth run on a
-- connection) and was computed again for every row the index returned (issue 12: a 0.5 degree
-- box over Seoul went from 35 ms to 6-7 s). What lies in the inner rectangle needs no exact test.
-- The ids are paged first (index, filter, top-N by id), and only the page is joined and encoded.
WITH page AS MATERIALIZED (
    SELECT c.id
    FROM camera c
    WHERE c.position && (SELECT ST_GeomFromWKB(:outline, 5179))
      AND (
        c.position @ (SELECT ST_MakeEnvelope(:ix0, :iy0, :ix1, :iy1, 5179))
        OR ST_Intersects(c.position, (SELECT ST_GeomFromWKB(:outline, 5179)))
      )
      AND c.status <> 'retired'
      AND c.id > :after
    ORDER BY c.id
    LIMIT :limit
)
SELECT
    c.id, c.owner_id, o.name AS owner_name, c.kind, c.status, c.heading_deg, c.heading_source,
    c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h, c.megapixels,
    c.mount_height_m, c.purpose, c.address, c.direction_text, c.source,
    c.sigungu_code, c.sigungu_name, c.emd_code, c.emd_name,
    ST_AsGeoJSON(ST_Transform(c.position, 4326), 7) AS geometry
FROM page
JOIN camera c ON c.id = page.id
JOIN organization o ON o.id = c.owner_id
ORDER BY c.id
