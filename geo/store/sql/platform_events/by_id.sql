SELECT e.id, e.platform_id, e.ocr_nbr, e.event_type, e.event_name, e.grade, e.place,
       ST_X(ST_Transform(e.location, 4326)) AS lon,
       ST_Y(ST_Transform(e.location, 4326)) AS lat,
       e.status_code, e.state, e.callback_url, e.policy_id, e.activation_id,
       e.created_at, e.updated_at, e.closed_at
FROM platform_event e
WHERE e.id = :id
