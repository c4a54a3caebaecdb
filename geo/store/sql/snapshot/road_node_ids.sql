-- The nodes of network :network_id: id and OSM id as one fixed record each (int8, int8,
-- big-endian), packed in blocks of 16,384 ids, in id order.
SELECT blk.*
FROM
    (
        SELECT min(id) >> 14 AS lo, max(id) >> 14 AS hi
        FROM road_node WHERE network_id = :network_id
    ) AS span,
    generate_series(span.lo, span.hi) AS b (k)
CROSS JOIN LATERAL (
    SELECT string_agg(int8send(n.id) || int8send(n.osm_id), ''::bytea ORDER BY n.id) AS rec
    FROM road_node n
    WHERE n.id >= b.k << 14 AND n.id < (b.k + 1) << 14 AND n.network_id = :network_id
) AS blk
WHERE blk.rec IS NOT NULL
ORDER BY b.k
