-- Activations that ran out on their own (their end passed, nobody ended them) since :since and
-- whose running out is not in the audit trail yet: the loop records each once.
SELECT a.id, a.basis, a.reference, a.issuer_id, a.ends_at
FROM activation AS a
WHERE a.ended_at IS NULL
  AND a.ends_at <= :now
  AND a.ends_at > :since
  AND NOT EXISTS (
      SELECT 1 FROM audit_record AS r
      WHERE r.action = 'activation.expired'
        AND r.subject_type = 'activation'
        AND r.subject_id = a.id::text
  )
ORDER BY a.ends_at, a.id
