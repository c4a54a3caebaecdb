-- Cameras offline or in maintenance, with why and since when: few, read when a snapshot loads.
SELECT id, status, status_reason, status_since
FROM camera
WHERE status IN ('offline', 'maintenance')
