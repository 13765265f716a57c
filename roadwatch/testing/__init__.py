"""roadwatch's pytest plugin (`pytest11` entry point `roadwatch.testing.plugin`): a real Kafka broker and a
throw-away Iceberg catalog for your own tests, in one line. Install roadwatch in the test environment and the
fixtures are there: `kafka_bootstrap`, `kafka`, `topic_factory`, `producer_factory`, `consumer_factory`,
`iceberg_catalog`, `catalog_settings`. The broker comes from, in order: `KAFKA_BOOTSTRAP_SERVERS`; a
testcontainers Kafka when a Docker engine answers (`ROADWATCH_TESTING_KAFKA_IMAGE`); the project's own local
broker (Java). `ROADWATCH_TESTING_BROKER=testcontainers|local` pins one (docs/docker.md)."""
