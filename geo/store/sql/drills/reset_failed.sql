UPDATE drill_scenario SET status = 'pending', error = '', computed_at = NULL
WHERE drill_id = :drill AND status = 'failed'
