-- Run on the psycopg cursor, not through SQLAlchemy: its placeholders are psycopg placeholders
-- for parameters sent in the binary format (the arrays, each record as JSON text unescaped).
-- Only pending rows change: a result arriving twice is recorded once.
UPDATE drill_scenario s SET
    status = r.status,
    approaches = r.approaches,
    blind = r.blind,
    incomplete = r.incomplete,
    result = CAST(r.result AS jsonb),
    error = r.error,
    computed_at = clock_timestamp()
FROM unnest(%b::bigint[], %b::text[], %b::int[], %b::int[], %b::bool[], %b::text[], %b::text[])
    AS r(id, status, approaches, blind, incomplete, result, error)
WHERE s.id = r.id
  AND s.drill_id = %b
  AND s.status = 'pending'
  -- the rows by primary key: planned on the drill's pending rows instead, from statistics
  -- older than the drill, the join scanned them all once per result
  AND s.id = ANY(%b::bigint[])
