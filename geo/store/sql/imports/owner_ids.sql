SELECT name, id FROM organization WHERE name = ANY(CAST(:names AS text[]))
