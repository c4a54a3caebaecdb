UPDATE incident SET status = 'closed', closed_at = now()
WHERE id = :id AND status = 'open'
RETURNING id
