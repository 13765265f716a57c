"""The Iceberg sink: batches records per table and commits each batch with the Kafka offsets it covers."""
