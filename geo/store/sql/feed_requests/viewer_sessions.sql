-- The latest feed session of each request (never its credential hash).
SELECT DISTINCT ON (feed_request_id)
       feed_request_id, relay_name, relay_stream_id, expires_at, status, ended_at
FROM feed_session
WHERE feed_request_id = ANY(:ids)
ORDER BY feed_request_id, id DESC
