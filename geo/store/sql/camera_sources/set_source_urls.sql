UPDATE camera c SET source_url = v.url
FROM unnest(CAST(:ids AS bigint[]), CAST(:urls AS text[])) AS v(id, url)
WHERE c.id = v.id
