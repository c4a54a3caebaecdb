"""The store's static SQL statements, one a file, by store module (see :mod:`geo.store.queries`)."""
