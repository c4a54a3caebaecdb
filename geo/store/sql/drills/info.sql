-- The drill :name, its scenarios counted by status, and the distinct cameras its done
-- scenarios name: a record in columns (geo.drills.run_batch), or one stored before as rows.
SELECT
    d.id, d.name, d.options, d.source_file, d.created_at,
    count(s.id) AS scenarios,
    count(s.id) FILTER (WHERE s.status = 'done') AS done,
    count(s.id) FILTER (WHERE s.status = 'failed') AS failed,
    count(s.id) FILTER (WHERE s.status = 'pending') AS pending,
    coalesce(sum(s.approaches), 0) AS approaches,
    coalesce(sum(s.blind), 0) AS blind,
    (
        SELECT count(DISTINCT c.id)
        FROM drill_scenario x,
        LATERAL (
            SELECT jsonb_array_elements_text(CASE jsonb_typeof(x.result)
                WHEN 'object' THEN x.result->'cameras'->'camera_id' ELSE '[]' END)
            UNION ALL
            SELECT k->>'camera_id'
            FROM jsonb_array_elements(CASE jsonb_typeof(x.result)
                    WHEN 'array' THEN x.result ELSE '[]' END) a,
                jsonb_array_elements(a->'cameras') k
        ) c(id)
        WHERE x.drill_id = d.id AND x.status = 'done'
    ) AS cameras
FROM drill d
LEFT JOIN drill_scenario s ON s.drill_id = d.id
WHERE d.name = :name
GROUP BY d.id
