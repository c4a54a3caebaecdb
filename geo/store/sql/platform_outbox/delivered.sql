UPDATE platform_outbox SET
    state = 'delivered', attempts = attempts + 1, delivered_at = :now, last_error = ''
WHERE id = :id
