INSERT INTO feed_session (feed_request_id, relay_name, relay_stream_id, credential_hash,
                          expires_at, status)
VALUES (:request, :relay, :stream, :hash, :expires, 'live')
RETURNING id
