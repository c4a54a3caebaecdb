-- A camera added by its centre, outside any import.
INSERT INTO camera (source, source_key, site_key, owner_id, position, kind, heading_deg,
                    heading_source, fov_deg, resolution_px_h, status, status_since)
VALUES ('manual', :source_key, :source_key, :owner,
        ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), :kind, :heading_deg,
        :heading_source, :fov_deg, :resolution_px_h, 'online', now())
RETURNING id
