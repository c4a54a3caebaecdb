-- Whether this transaction has written nothing yet: then another connection reading now sees
-- what it sees (the committed rows), and a snapshot can be read by two connections at once.
SELECT txid_current_if_assigned() IS NULL
