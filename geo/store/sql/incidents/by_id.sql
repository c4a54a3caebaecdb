SELECT
    i.id, i.requester_id, o.name AS requester_name,
    ST_X(ST_Transform(i.location, 4326)) AS lon,
    ST_Y(ST_Transform(i.location, 4326)) AS lat,
    i.radius_m, i.mode, i.direction, i.travel, i.level, i.note, i.status, i.incomplete,
    i.created_at, i.closed_at, i.sigungu_code, i.sigungu_name, i.emd_code, i.emd_name
FROM incident i
JOIN organization o ON o.id = i.requester_id
WHERE i.id = :id
