-- Every organization's id and name (the cameras' owners, for the snapshot's camera table).
SELECT id, name FROM organization ORDER BY id
