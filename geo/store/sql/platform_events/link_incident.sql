INSERT INTO platform_event_incident (event_id, incident_id, subscription_id)
VALUES (:event, :incident, :subscription)
