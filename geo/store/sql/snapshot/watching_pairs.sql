-- (stretch position, camera id) pairs whose stored coverage at :level meets the stretch;
-- stretches arrive as hex WKB in the working CRS (EPSG:5179).
SELECT s.ord - 1 AS pos, v.camera_id
FROM unnest(CAST(:wkb AS text[])) WITH ORDINALITY AS s(wkb, ord)
JOIN coverage v
    ON v.level = :level
    AND ST_Intersects(v.geom, ST_SetSRID(ST_GeomFromWKB(decode(s.wkb, 'hex')), 5179))
JOIN camera c ON c.id = v.camera_id AND c.status <> 'retired'
ORDER BY 1, 2
