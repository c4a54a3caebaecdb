SELECT id, owner_id FROM camera WHERE id = ANY(:ids) FOR UPDATE
