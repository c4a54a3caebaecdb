SELECT
    o.id, o.name, o.kind, o.parent_id, p.name AS parent_name, o.auto_approve_bases,
    (SELECT count(*) FROM api_key k WHERE k.organization_id = o.id AND k.revoked_at IS NULL)
        AS active_keys,
    ST_Area(o.service_area) / 1e6 AS service_area_km2
FROM organization o
LEFT JOIN organization p ON p.id = o.parent_id
WHERE o.name = :name
