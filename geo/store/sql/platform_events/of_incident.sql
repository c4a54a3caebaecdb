-- The platform situation an incident was raised for (none for an incident raised by hand).
SELECT e.id, e.platform_id, p.code AS platform_code, e.event_type, e.event_name, e.ocr_nbr,
       ST_X(ST_Transform(e.location, 4326)) AS lon,
       ST_Y(ST_Transform(e.location, 4326)) AS lat,
       e.place, e.callback_url, p.callback_url AS registered_callback
FROM platform_event_incident pei
JOIN platform_event e ON e.id = pei.event_id
JOIN platform p ON p.id = e.platform_id
WHERE pei.incident_id = :incident
