SET LOCAL default_toast_compression = lz4
