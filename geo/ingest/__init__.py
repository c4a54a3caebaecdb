"""Readers of real-world inputs: CCTV standard data, enforcement cameras, OSM cameras and roads.

Each reader parses a file into plain tables (pandas / shapely, lon/lat EPSG:4326) and a report
of what it rejected; it never touches the database. ``geo.store`` loads the tables.
"""
