-- The policy of one event type of a platform; set again, it is replaced.
INSERT INTO platform_policy (
    platform_id, event_type, basis, area, radius_m, max_hours, activation, issuer_id
)
VALUES (
    :platform, :event_type, :basis, :area, :radius_m, :max_hours, :activation, :issuer
)
ON CONFLICT (platform_id, event_type) DO UPDATE SET
    basis = EXCLUDED.basis, area = EXCLUDED.area, radius_m = EXCLUDED.radius_m,
    max_hours = EXCLUDED.max_hours, activation = EXCLUDED.activation,
    issuer_id = EXCLUDED.issuer_id
RETURNING id
