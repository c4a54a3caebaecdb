-- A camera added by its centre, outside any import, with the 시군구 and 읍면동 it lies in.
INSERT INTO camera (source, source_key, site_key, owner_id, position, kind, heading_deg,
                    heading_source, fov_deg, resolution_px_h, purpose, status, status_since,
                    provenance, sigungu_code, sigungu_name, emd_code, emd_name)
VALUES ('manual', :source_key, :source_key, :owner,
        ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), :kind, :heading_deg,
        :heading_source, :fov_deg, :resolution_px_h, :purpose, 'online', now(),
        CAST(:provenance AS jsonb), :sigungu_code, :sigungu_name, :emd_code, :emd_name)
RETURNING id
