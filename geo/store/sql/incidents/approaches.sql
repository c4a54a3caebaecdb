SELECT
    id, seq, direction, road_name, highway, is_main, bearing_deg, blind,
    ST_X(ST_Transform(entry_point, 4326)) AS lon,
    ST_Y(ST_Transform(entry_point, 4326)) AS lat,
    ST_AsGeoJSON(ST_Transform(watch_stretch, 4326), 7) AS stretch,
    cameras, sigungu_code, sigungu_name, emd_code, emd_name
FROM approach
WHERE incident_id = :id
ORDER BY seq
