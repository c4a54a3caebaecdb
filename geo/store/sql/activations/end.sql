UPDATE activation SET ended_at = :now WHERE id = :id AND ended_at IS NULL
