"""Reads of the Iceberg tables (a Python API) and the named questions `roadwatch query` answers."""
