-- An incident raised by a platform event moved with it: its point and its answer's options.
UPDATE incident SET
    location = ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),
    radius_m = :radius, mode = :mode, direction = :direction, travel = :travel,
    level = :level, incomplete = :incomplete
WHERE id = :id AND status = 'open'
RETURNING id
