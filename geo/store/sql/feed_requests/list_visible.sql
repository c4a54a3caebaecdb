-- Feed requests after :after in id order that a caller sees: all of them when :everyone; else
-- those of the requester :requester, owned by :owner, or routed through :via (NULL for none).
-- :state and :incident (NULL for any) filter. With each, its incident's point and state, its
-- camera's address and its legal basis.
SELECT f.id, f.incident_id, f.camera_id, f.requester_id, r.name AS requester_name,
       f.routed_via_id, v.name AS routed_via_name, f.owner_id, o.name AS owner_name,
       f.activation_id, a.basis, f.status, f.reason, f.decided_by, f.decided_at, f.created_at,
       ST_X(ST_Transform(i.location, 4326)) AS incident_lon,
       ST_Y(ST_Transform(i.location, 4326)) AS incident_lat,
       i.status AS incident_status, i.radius_m AS incident_radius_m,
       a.reference AS activation_reference, a.starts_at AS activation_starts_at,
       least(a.ends_at, coalesce(a.ended_at, a.ends_at)) AS activation_ends_at,
       c.address AS camera_address, c.kind AS camera_kind
FROM feed_request f
JOIN organization r ON r.id = f.requester_id
LEFT JOIN organization v ON v.id = f.routed_via_id
JOIN organization o ON o.id = f.owner_id
JOIN activation a ON a.id = f.activation_id
JOIN incident i ON i.id = f.incident_id
JOIN camera c ON c.id = f.camera_id
WHERE f.id > CAST(:after AS bigint)
  AND (CAST(:state AS text) IS NULL OR f.status = CAST(:state AS text))
  AND (CAST(:incident AS bigint) IS NULL OR f.incident_id = CAST(:incident AS bigint))
  AND (CAST(:id AS bigint) IS NULL OR f.id = CAST(:id AS bigint))
  AND (
      :everyone
      OR f.requester_id = CAST(:requester AS bigint)
      OR f.owner_id = CAST(:owner AS bigint)
      OR f.routed_via_id = CAST(:via AS bigint)
  )
ORDER BY f.id
LIMIT :limit
