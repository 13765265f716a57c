"""The cluster profile's local stack (`roadwatch --profile cluster stack up`): three KRaft Kafka nodes, an S3
server (s3proxy), Apache Iceberg's REST catalog on it, a Flink session cluster running the confidence-state
job, and Prometheus; each a plain process under `<ROADWATCH_HOME>/cluster`."""
