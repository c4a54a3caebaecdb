UPDATE feed_session SET relay_stream_id = :stream, credential_hash = :hash, last_error = ''
WHERE id = :id
