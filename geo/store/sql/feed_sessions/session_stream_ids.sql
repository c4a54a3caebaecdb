SELECT relay_stream_id FROM feed_session WHERE status = 'live' AND relay_name = :r
