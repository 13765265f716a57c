"""Read roadwatch's tables through the Iceberg REST catalog with Apache Spark (run by .venv-spark's Python,
which has pyspark and nothing of roadwatch): each table's row count and the funnel, computed with the same
SQL `roadwatch query funnel` runs, as one JSON object on stdout.

    python spark_reader.py JARS_DIR   (the catalog from SPARK_CATALOG_* variables: URI, WAREHOUSE,
                                       S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession  # type: ignore[import-not-found]  # only in .venv-spark

TABLES = ("detections", "verdicts", "source_state", "dead_letters")


def session(jars: Path) -> SparkSession:
    env = os.environ
    c = "spark.sql.catalog.roadwatch"
    return (
        SparkSession.builder.master("local[2]")
        .appName("roadwatch-spark-reader")
        .config("spark.jars", ",".join(str(j) for j in sorted(jars.glob("*.jar"))))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config(c, "org.apache.iceberg.spark.SparkCatalog")
        .config(f"{c}.type", "rest")
        .config(f"{c}.uri", env["SPARK_CATALOG_URI"])
        .config(f"{c}.warehouse", env["SPARK_CATALOG_WAREHOUSE"])
        .config(f"{c}.io-impl", "org.apache.iceberg.aws.s3.S3FileIO")
        .config(f"{c}.s3.endpoint", env["SPARK_CATALOG_S3_ENDPOINT"])
        .config(f"{c}.s3.path-style-access", "true")
        .config(f"{c}.s3.access-key-id", env["SPARK_CATALOG_S3_ACCESS_KEY_ID"])
        .config(f"{c}.s3.secret-access-key", env["SPARK_CATALOG_S3_SECRET_ACCESS_KEY"])
        .config(f"{c}.client.region", "us-east-1")
        .getOrCreate()
    )


def main() -> None:
    spark = session(Path(sys.argv[1]))
    spark.sql("USE roadwatch.roadwatch")
    counts = {t: spark.sql(f"SELECT count(*) AS n FROM {t}").first()["n"] for t in TABLES}
    funnel = (
        spark.sql(
            """
        select (select count(distinct event_id) from detections) as images,
               (select count(*) from verdicts) as verdicts,
               (select count(distinct event_id) from verdicts) as distinct_verdicts,
               (select count(*) from detections where decision = 'escalate') as escalated,
               (select count(*) from verdicts where degraded) as degraded,
               (select count(*) from verdicts where roadwork) as roadwork,
               (select count(*) from dead_letters) as dead_letters
        """
        )
        .first()
        .asDict()
    )
    decided = spark.sql("select decided_by, count(*) as n from verdicts group by 1 order by 1").collect()
    funnel["decided_by"] = {r["decided_by"]: r["n"] for r in decided}
    sys.stdout.write(json.dumps({"counts": counts, "funnel": funnel}) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
