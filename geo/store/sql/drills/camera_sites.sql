-- Every :every-th camera site (by site key) of the CCTV-standard imports (of file :file when
-- given) that stands at least :inset metres inside a road network's extent, lon/lat.
WITH area AS (
    SELECT ST_Buffer(extent, -CAST(:inset AS float8)) AS g
    FROM road_network
    WHERE extent IS NOT NULL
),
site AS (
    SELECT DISTINCT ON (c.site_key) c.site_key, c.position
    FROM camera c
    JOIN area a ON ST_Covers(a.g, c.position)
    LEFT JOIN import_batch b ON b.id = c.import_batch_id
    WHERE c.source = 'cctv_standard'
      AND (CAST(:file AS text) IS NULL OR b.file_name = :file)
    ORDER BY c.site_key, c.id
),
numbered AS (
    SELECT site_key, position, row_number() OVER (ORDER BY site_key) - 1 AS n
    FROM site
)
SELECT site_key, ST_X(p) AS lon, ST_Y(p) AS lat
FROM (
    SELECT site_key, n, ST_Transform(position, 4326) AS p
    FROM numbered
    WHERE n % :every = 0
) s
ORDER BY n
LIMIT :limit
