INSERT INTO feed_request (incident_id, camera_id, requester_id, routed_via_id, owner_id,
                          activation_id, status, reason, decided_at)
VALUES (:incident, :camera, :requester, :via, :owner, :activation, :status, :reason,
        CASE WHEN :auto THEN now() END)
RETURNING id
