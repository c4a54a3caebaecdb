-- One approach of incident :incident; its geometries arrive as lon/lat WKB and are kept in
-- the working CRS (EPSG:5179).
INSERT INTO approach (
    incident_id, seq, direction, road_name, highway, is_main, bearing_deg, blind, entry_point,
    watch_stretch, cameras, sigungu_code, sigungu_name, emd_code, emd_name
)
VALUES (
    :incident, :seq, :direction, :road_name, :highway, :is_main, :bearing_deg, :blind,
    ST_Transform(ST_SetSRID(ST_GeomFromWKB(:entry_wkb), 4326), 5179),
    ST_Transform(ST_SetSRID(ST_GeomFromWKB(:stretch_wkb), 4326), 5179),
    CAST(:cameras AS jsonb), :sigungu_code, :sigungu_name, :emd_code, :emd_name
)
