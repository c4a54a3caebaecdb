-- Sessions over for a day: nothing refers to them (their start and end are audited).
DELETE FROM browser_session
WHERE coalesce(ended_at, expires_at) < now() - interval '1 day'
