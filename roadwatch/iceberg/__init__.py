"""Iceberg: catalog settings, opening the catalog and declaring the tables, Kafka offsets in snapshot
summaries, and table maintenance. The sink writes through it; analytics and the CLI read through it."""
