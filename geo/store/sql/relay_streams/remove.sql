DELETE FROM relay_stream WHERE relay_stream_id = :id
