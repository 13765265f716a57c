"""The embedded local stack: a real Apache Kafka broker (KRaft) run from Maven Central jars."""
