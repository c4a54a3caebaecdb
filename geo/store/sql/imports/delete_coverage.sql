DELETE FROM coverage WHERE camera_id = ANY(:ids) AND level = :level
