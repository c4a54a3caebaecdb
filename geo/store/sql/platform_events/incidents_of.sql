SELECT pei.incident_id, pei.subscription_id, i.status
FROM platform_event_incident pei
JOIN incident i ON i.id = pei.incident_id
WHERE pei.event_id = :event
ORDER BY pei.incident_id
