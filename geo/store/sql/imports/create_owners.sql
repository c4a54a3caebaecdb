-- Municipal centres for the owner names not known yet; the ids of those created.
INSERT INTO organization (name, kind)
SELECT name, 'municipal_centre' FROM unnest(CAST(:names AS text[])) AS name
ON CONFLICT (name) DO NOTHING
RETURNING id
