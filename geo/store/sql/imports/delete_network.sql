DELETE FROM road_network WHERE id = :id
