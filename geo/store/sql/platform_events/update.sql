-- The situation's latest status, place and position (a position given as NULL is kept).
UPDATE platform_event SET
    status_code = :status,
    state = :state,
    place = CASE WHEN :place = '' THEN place ELSE :place END,
    location = CASE WHEN CAST(:lon AS float8) IS NULL THEN location
                    ELSE ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179) END,
    callback_url = CASE WHEN :callback_url = '' THEN callback_url ELSE :callback_url END,
    updated_at = now(),
    closed_at = CASE WHEN :state = 'closed' THEN coalesce(closed_at, now()) ELSE NULL END
WHERE id = :id
