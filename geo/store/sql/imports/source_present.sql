SELECT EXISTS (SELECT 1 FROM camera WHERE source = :source)
