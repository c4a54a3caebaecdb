-- A situation first heard of; a concurrent first message of the same one waits on the unique
-- key and then finds the row (ON CONFLICT DO NOTHING returns nothing).
INSERT INTO platform_event (
    platform_id, ocr_nbr, event_type, event_name, grade, place, location, status_code, state,
    callback_url
)
VALUES (
    :platform, :ocr_nbr, :event_type, :event_name, :grade, :place,
    CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
         ELSE ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179) END,
    :status, :state, :callback_url
)
ON CONFLICT (platform_id, ocr_nbr) DO NOTHING
