-- One situation room's subscription to a platform's events of one type; given again, its
-- cordon is replaced.
INSERT INTO platform_subscription (
    platform_id, event_type, organization_id, radius_m, mode, direction, travel, level
)
VALUES (:platform, :event_type, :organization, :radius_m, :mode, :direction, :travel, :level)
ON CONFLICT (platform_id, event_type, organization_id) DO UPDATE SET
    radius_m = EXCLUDED.radius_m, mode = EXCLUDED.mode, direction = EXCLUDED.direction,
    travel = EXCLUDED.travel, level = EXCLUDED.level
RETURNING id
