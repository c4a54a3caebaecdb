-- The incidents that involve centre :org, as incidents/involved_organizations.sql reads one
-- incident the other way: :org or a centre below it owns a camera on the incident's record or
-- asked for, or a request is routed through one of them.
WITH RECURSIVE below(id, depth) AS (
    SELECT id, 0 FROM organization
    WHERE id = CAST(:org AS integer) AND kind IN ('municipal_centre', 'regional_centre')
    UNION
    SELECT o.id, below.depth + 1
    FROM organization o
    JOIN below ON o.parent_id = below.id
    WHERE below.depth < 16
)
SELECT fr.incident_id
FROM feed_request fr
WHERE fr.owner_id IN (SELECT id FROM below) OR fr.routed_via_id IN (SELECT id FROM below)
UNION
SELECT a.incident_id
FROM approach a
CROSS JOIN LATERAL jsonb_array_elements(a.cameras) AS e(cam)
JOIN camera c ON c.id = CAST(e.cam ->> 'camera_id' AS bigint)
WHERE c.owner_id IN (SELECT id FROM below)
