SELECT id, options FROM drill WHERE name = :name
