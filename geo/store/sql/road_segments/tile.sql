-- One Web Mercator vector tile (z, x, y) of the stored roads, layer "roads": each segment's OSM
-- class, a rank for styling (1 motorway/trunk, 2 primary, 3 secondary/tertiary, 4 local, 5 the
-- rest), name, ref, one-way, bridge, tunnel. Roads are kept in EPSG:5179: the tile's envelope
-- (with a buffer of 64/4096 so lines cross tile edges cleanly), densified so its straight Mercator
-- edges stay inside its 5179 outline and cut to the country's box (:west .. :north, lon/lat),
-- finds them on the GiST index; only their clipped parts are
-- carried into Mercator. Ranks past max_rank (the minor roads) are left out at low zooms.
WITH bounds AS (
    SELECT
        ST_TileEnvelope(:z, :x, :y) AS mercator,
        -- only the part inside the country's lon/lat box is carried into EPSG:5179, whose
        -- projection is undefined far from Korea (a low zoom's tile spans the world)
        ST_Transform(
            ST_Intersection(
                ST_Transform(
                    ST_Segmentize(
                        ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096.0),
                        ST_Area(ST_TileEnvelope(:z, :x, :y)) ^ 0.5 / 16
                    ),
                    4326
                ),
                ST_MakeEnvelope(:west, :south, :east, :north, 4326)
            ),
            5179
        ) AS working
),
ranked AS (
    SELECT
        s.id,
        s.highway,
        CASE
            WHEN s.highway IN ('motorway', 'motorway_link', 'trunk', 'trunk_link') THEN 1
            WHEN s.highway IN ('primary', 'primary_link') THEN 2
            WHEN s.highway IN ('secondary', 'secondary_link', 'tertiary', 'tertiary_link') THEN 3
            WHEN s.highway IN ('residential', 'unclassified', 'living_street', 'road') THEN 4
            ELSE 5
        END AS rank,
        s.name,
        s.ref,
        s.oneway,
        s.bridge,
        s.tunnel,
        s.geom
    FROM road_segment AS s, bounds AS b
    WHERE s.geom && b.working AND ST_Intersects(s.geom, b.working)
),
features AS (
    SELECT
        r.id,
        r.highway AS class,
        r.rank,
        r.name,
        r.ref,
        r.oneway,
        r.bridge,
        r.tunnel,
        ST_AsMVTGeom(
            ST_Transform(ST_Intersection(r.geom, b.working), 3857), b.mercator, 4096, 64, true
        ) AS geom
    FROM ranked AS r, bounds AS b
    WHERE r.rank <= :max_rank
)
SELECT coalesce(ST_AsMVT(features, 'roads', 4096, 'geom', 'id'), ''::bytea)
FROM features
WHERE geom IS NOT NULL
