#!/usr/bin/env bash
# The Spark reader of the cluster suite (tests/cluster/test_spark.py): .venv-spark with pyspark 3.5, and
# Iceberg's Spark runtime + AWS bundle from Maven Central in the jar cache. Idempotent. Versions come from
# roadwatch/stack/versions.py.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "run scripts/setup.sh first" >&2; exit 1; }
read -r PYSPARK ICEBERG_SPARK < <(.venv/bin/python -c \
  'from roadwatch.stack import versions as v; print(v.PYSPARK, v.ICEBERG_SPARK)')
[ -x .venv-spark/bin/python ] || .venv/bin/uv venv -q -p "${PYTHON:-python3}" .venv-spark
.venv/bin/uv pip install -q -p .venv-spark/bin/python "pyspark==$PYSPARK"
JARS="$HOME/.cache/roadwatch/spark"
mkdir -p "$JARS"
for a in "iceberg-spark-runtime-3.5_2.12" "iceberg-aws-bundle"; do
  [ -f "$JARS/$a-$ICEBERG_SPARK.jar" ] \
    || mvn -q -B -Dstyle.color=never dependency:copy "-Dartifact=org.apache.iceberg:$a:$ICEBERG_SPARK" "-DoutputDirectory=$JARS"
done
echo "Spark reader set up: .venv-spark (pyspark $(.venv-spark/bin/python -c "import pyspark; print(pyspark.__version__)")), Iceberg $ICEBERG_SPARK jars in $JARS"
