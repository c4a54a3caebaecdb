-- The current state of every camera changed after :after up to :upto (as the snapshot's camera
-- table holds it, with its status reason and since-time); retired ones included.
SELECT c.id, ST_X(c.position) AS x, ST_Y(c.position) AS y, c.kind, c.heading_deg,
       c.heading_source, c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h,
       c.status, c.status_reason, c.status_since, c.owner_id
FROM camera c
WHERE c.id IN (
    SELECT camera_id FROM camera_change WHERE id > :after AND id <= :upto
)
ORDER BY c.id
