SELECT status, count(*) FROM drill_scenario WHERE drill_id = :drill GROUP BY status
