-- The extent: a lon/lat box densified every 0.05 degrees, in the working CRS (EPSG:5179).
INSERT INTO road_network (name, source_format, extent, import_batch_id)
VALUES (
    :name, :fmt,
    ST_Transform(ST_Segmentize(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326), 0.05), 5179),
    :batch
)
RETURNING id
