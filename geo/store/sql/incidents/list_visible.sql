-- Incidents after :after in id order that a caller may read (api.incidents.may_read): all of
-- them when :everyone; else those raised by :requester, and those involving the centre
-- :centre (NULL for none): a request for, or routed through, it or a centre below it, or a
-- camera of such a centre on the incident's record. :state (NULL for any) filters by status.
WITH RECURSIVE tree(id, depth) AS (
    SELECT CAST(:centre AS int), 0 WHERE CAST(:centre AS int) IS NOT NULL
    UNION
    SELECT o.id, tree.depth + 1
    FROM organization o
    JOIN tree ON o.parent_id = tree.id
    WHERE tree.depth < 16
)
SELECT
    i.id, i.requester_id, o.name AS requester_name,
    ST_X(ST_Transform(i.location, 4326)) AS lon,
    ST_Y(ST_Transform(i.location, 4326)) AS lat,
    i.radius_m, i.mode, i.direction, i.travel, i.level, i.note, i.status, i.incomplete,
    i.created_at, i.closed_at,
    (SELECT count(*) FROM approach a WHERE a.incident_id = i.id) AS approach_count,
    (SELECT count(*) FROM approach a WHERE a.incident_id = i.id AND a.blind) AS blind_count
FROM incident i
JOIN organization o ON o.id = i.requester_id
WHERE i.id > CAST(:after AS bigint)
  AND (CAST(:state AS text) IS NULL OR i.status = CAST(:state AS text))
  AND (
      :everyone
      OR i.requester_id = CAST(:requester AS bigint)
      OR EXISTS (
          SELECT 1 FROM feed_request f
          WHERE f.incident_id = i.id
            AND (f.owner_id IN (SELECT id FROM tree) OR f.routed_via_id IN (SELECT id FROM tree))
      )
      OR EXISTS (
          SELECT 1
          FROM approach a
          CROSS JOIN LATERAL jsonb_array_elements(a.cameras) AS e(cam)
          JOIN camera c ON c.id = CAST(e.cam ->> 'camera_id' AS bigint)
          WHERE a.incident_id = i.id AND c.owner_id IN (SELECT id FROM tree)
      )
  )
ORDER BY i.id
LIMIT :limit
