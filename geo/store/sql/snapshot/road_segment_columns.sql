-- Up to :limit segments of network :network_id with ids above :after, in id order, as packed
-- binary columns in one row (snapshot.read_road_networks unpacks them with numpy): ids and
-- end OSM ids as big-endian int8, flags as one byte each, geometry as little-endian WKB; the
-- text columns as 1-based dense ranks (int4) into the chunk's sorted distinct values (NULL
-- last). string_agg skips NULLs, so every packed value is made non-NULL first. The rows reach
-- the aggregates in id order (the sorted subquery); the reader checks the ids all the same.
WITH chunk AS MATERIALIZED (
    SELECT
        s.id, a.osm_id AS u, b.osm_id AS v, coalesce(s.osm_way_id, -1) AS osm_way_id,
        coalesce(s.oneway, false) AS oneway, coalesce(s.bridge, false) AS bridge,
        coalesce(s.tunnel, false) AS tunnel, ST_NPoints(s.geom) AS npoints,
        ST_AsBinary(s.geom, 'NDR') AS wkb, s.name, s.highway, s.ref
    FROM road_segment s
    JOIN road_node a ON a.id = s.source
    JOIN road_node b ON b.id = s.target
    WHERE s.network_id = :network_id AND s.id > :after
    ORDER BY s.id
    LIMIT :limit
)
SELECT
    count(*) AS n,
    max(id) AS last_id,
    string_agg(int8send(id), ''::bytea) AS id,
    string_agg(int8send(u), ''::bytea) AS u,
    string_agg(int8send(v), ''::bytea) AS v,
    string_agg(int8send(osm_way_id), ''::bytea) AS osm_way_id,
    string_agg(boolsend(oneway), ''::bytea) AS oneway,
    string_agg(boolsend(bridge), ''::bytea) AS bridge,
    string_agg(boolsend(tunnel), ''::bytea) AS tunnel,
    string_agg(int4send(npoints), ''::bytea) AS npoints,
    string_agg(wkb, ''::bytea) AS wkb,
    string_agg(int4send(name_rank::int4), ''::bytea) AS name,
    string_agg(int4send(highway_rank::int4), ''::bytea) AS highway,
    string_agg(int4send(ref_rank::int4), ''::bytea) AS ref,
    (SELECT array_agg(DISTINCT c.name ORDER BY c.name) FROM chunk c) AS name_values,
    (SELECT array_agg(DISTINCT c.highway ORDER BY c.highway) FROM chunk c) AS highway_values,
    (SELECT array_agg(DISTINCT c.ref ORDER BY c.ref) FROM chunk c) AS ref_values
FROM (
    SELECT
        c.*,
        dense_rank() OVER (ORDER BY c.name) AS name_rank,
        dense_rank() OVER (ORDER BY c.highway) AS highway_rank,
        dense_rank() OVER (ORDER BY c.ref) AS ref_rank
    FROM chunk c
    ORDER BY c.id
) s
