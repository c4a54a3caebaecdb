-- The point arrives as lon/lat and is kept in the working CRS (EPSG:5179).
INSERT INTO incident (
    requester_id, location, radius_m, mode, direction, travel, level, note, incomplete,
    sigungu_code, sigungu_name, emd_code, emd_name
)
VALUES (
    :requester, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),
    :radius, :mode, :direction, :travel, :level, :note, :incomplete,
    :sigungu_code, :sigungu_name, :emd_code, :emd_name
)
RETURNING id
