-- The subscriptions an event of :event_type from :platform raises incidents for: those of that
-- type, and those of every type ('*') of a room with none of that type.
SELECT s.id, s.platform_id, s.event_type, s.organization_id, o.name AS organization_name,
       s.radius_m, s.mode, s.direction, s.travel, s.level
FROM platform_subscription s
JOIN organization o ON o.id = s.organization_id
WHERE s.platform_id = :platform
  AND (s.event_type = :event_type
       OR (s.event_type = '*' AND NOT EXISTS (
           SELECT 1 FROM platform_subscription t
           WHERE t.platform_id = s.platform_id AND t.organization_id = s.organization_id
             AND t.event_type = :event_type)))
ORDER BY s.id
