ANALYZE camera, coverage
