-- Audit records after :after (in id order, at most :limit) whose action is one of :actions,
-- with the feed request each concerns (a request's own, or a session's) and the requester of
-- the incident each concerns: who may see the event made of it.
SELECT a.id, a.at, a.action, a.subject_type, a.subject_id, a.details,
       f.id AS request_id, f.incident_id AS request_incident_id,
       f.requester_id AS request_requester_id, f.owner_id AS request_owner_id,
       f.routed_via_id AS request_via_id, f.activation_id AS request_activation_id,
       i.requester_id AS incident_requester_id
FROM audit_record a
LEFT JOIN feed_request f ON f.id = (
    CASE WHEN a.subject_type = 'feed_request' THEN CAST(a.subject_id AS bigint)
         WHEN a.subject_type = 'feed_session' THEN CAST(a.details ->> 'feed_request_id' AS bigint)
    END
)
LEFT JOIN incident i ON i.id = (
    CASE WHEN a.subject_type = 'incident' THEN CAST(a.subject_id AS bigint) END
)
WHERE a.id > CAST(:after AS bigint) AND a.action = ANY(:actions)
ORDER BY a.id
LIMIT :limit
