UPDATE organization SET parent_id = :parent WHERE id = :id
