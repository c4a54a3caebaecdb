"""gilmok's spatial core: which cameras watch the approaches to an incident.

Everything here is importable without Flask. Pure modules (coverage, network, approaches,
select, index) take and return shapely/numpy arrays; ``geo.store`` is the only module that
speaks SQL, and ``geo.ingest`` reads the real-world files.
"""
