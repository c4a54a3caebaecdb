SELECT id, platform_id, event_type, basis, area, radius_m, max_hours, activation, issuer_id
FROM platform_policy
WHERE platform_id = :platform AND event_type = :event_type
