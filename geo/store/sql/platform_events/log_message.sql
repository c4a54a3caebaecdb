-- The event log, keyed by platform, occurrence number and status: the first receipt keeps the
-- raw message and what it did; a repeat only counts. ``first`` tells the two apart.
INSERT INTO platform_message (platform_id, ocr_nbr, status_code, event_id, outcome, raw)
VALUES (:platform, :ocr_nbr, :status, :event, :outcome, CAST(:raw AS jsonb))
ON CONFLICT (platform_id, ocr_nbr, status_code) DO UPDATE SET
    repeats = platform_message.repeats + 1, last_received_at = now()
RETURNING id, outcome, (xmax = 0) AS first
