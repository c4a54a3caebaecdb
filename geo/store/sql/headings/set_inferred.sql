-- A heading inferred from a one-way road (:heading, with :uncertainty), or none where both
-- senses remain; the inference's note always.
UPDATE camera SET
    heading_deg = CAST(:heading AS float8),
    heading_source = CASE WHEN :heading IS NULL THEN 'unknown' ELSE 'inferred' END,
    heading_uncertainty_deg = CASE WHEN :heading IS NULL THEN NULL ELSE CAST(:uncertainty AS float8) END,
    provenance = provenance || jsonb_build_object('heading_inference', CAST(:note AS jsonb))
WHERE id = :id
