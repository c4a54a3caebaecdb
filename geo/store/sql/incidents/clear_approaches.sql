DELETE FROM approach WHERE incident_id = :id
