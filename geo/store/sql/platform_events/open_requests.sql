-- An incident's feed requests that may still become or stay live, with whether the camera
-- stands inside the area of the activation each rests on.
SELECT fr.id, fr.camera_id, ST_Covers(a.area, c.position) AS inside_activation
FROM feed_request fr
JOIN camera c ON c.id = fr.camera_id
JOIN activation a ON a.id = fr.activation_id
WHERE fr.incident_id = :incident AND fr.status IN ('pending', 'approved', 'provisioned')
ORDER BY fr.id
