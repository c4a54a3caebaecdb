-- The positions (n) of the staged keys that camera already holds for :source.
SELECT s.n
FROM camera_key_stage s
JOIN camera c ON c.source = :source AND c.source_key = s.source_key
