-- The registry's change sequence: the newest camera change (0 for none).
SELECT coalesce(max(id), 0) FROM camera_change
