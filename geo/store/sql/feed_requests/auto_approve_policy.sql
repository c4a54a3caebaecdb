SELECT id, auto_approve_bases FROM organization WHERE id = ANY(:ids)
