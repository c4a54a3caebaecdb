SELECT f.id, f.incident_id, f.camera_id, f.requester_id, r.name AS requester_name,
       f.routed_via_id, v.name AS routed_via_name, f.owner_id, o.name AS owner_name,
       f.activation_id, a.basis, f.status, f.reason, f.decided_by, f.decided_at, f.created_at
FROM feed_request f
JOIN organization r ON r.id = f.requester_id
LEFT JOIN organization v ON v.id = f.routed_via_id
JOIN organization o ON o.id = f.owner_id
JOIN activation a ON a.id = f.activation_id
WHERE f.id = :id
