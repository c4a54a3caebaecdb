-- An incident raised by a platform event moved with it: its point, the 시군구 / 읍면동 it now
-- lies in, and its answer's options.
UPDATE incident SET
    location = ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),
    radius_m = :radius, mode = :mode, direction = :direction, travel = :travel,
    level = :level, incomplete = :incomplete,
    sigungu_code = :sigungu_code, sigungu_name = :sigungu_name,
    emd_code = :emd_code, emd_name = :emd_name
WHERE id = :id AND status = 'open'
RETURNING id
