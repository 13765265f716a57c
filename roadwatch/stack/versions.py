"""Every version the local stacks run, in one place: the embedded and cluster profiles resolve these from
Maven Central, and `docker-compose.yml` pins the same (checked by tests/unit/stack/test_versions.py)."""

KAFKA = "4.1.1"
LOG4J = "2.24.3"
ICEBERG = "1.10.0"  # the REST catalog (iceberg-open-api's server classes, iceberg-core, iceberg-aws)
JETTY = "11.0.25"  # what Iceberg 1.10's REST servlet is built against (jakarta.servlet 5)
HADOOP = "3.4.1"  # iceberg-core's Configuration; nothing else of Hadoop runs
SQLITE_JDBC = "3.50.3.0"  # the REST catalog's persistent JDBC catalog database
S3PROXY = "4.1.0"  # S3 API server on a filesystem backend; 2.x fails pyarrow's multipart checksums
PYSPARK = "3.5.*"  # the Spark test's reader (.venv-spark, scripts/setup-spark.sh)
ICEBERG_SPARK = "1.10.1"  # iceberg-spark-runtime-3.5_2.12 and iceberg-aws-bundle for it
CONNECT = KAFKA  # Kafka Connect's runtime (connect-runtime, -json, -transforms): the broker's release
ICEBERG_CONNECT = "1.10.1"  # iceberg-kafka-connect, the sink's peer (1.10.0's -events jar is missing)
