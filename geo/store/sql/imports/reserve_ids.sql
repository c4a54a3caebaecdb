-- Move table :t's id sequence on by :n at once; the last of the :n ids.
SELECT setval(pg_get_serial_sequence(:t, 'id'), nextval(pg_get_serial_sequence(:t, 'id')) + :n - 1)
