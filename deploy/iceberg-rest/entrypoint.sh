#!/usr/bin/env bash
# Apache Iceberg's REST catalog (roadwatch/stack/java/RestCatalog.java, as in the cluster profile) configured
# like the apache/iceberg-rest-fixture image: every CATALOG_* variable is a catalog property (CATALOG_
# dropped, lower-cased, `__` → `-`, `_` → `.`), e.g. CATALOG_WAREHOUSE, CATALOG_S3_ENDPOINT,
# CATALOG_REST_HOST (default 0.0.0.0), CATALOG_REST_PORT (default 8181). The default backend is a JDBC catalog
# on SQLite under /var/lib/iceberg-rest, the volume that keeps it. The properties file (it holds the S3
# secret) is readable by this user only.
set -euo pipefail
umask 077
PROPS=$(mktemp -d)/catalog.properties
{
  echo "rest.host=0.0.0.0"
  echo "rest.port=8181"
  echo "catalog-impl=org.apache.iceberg.jdbc.JdbcCatalog"
  echo "uri=jdbc:sqlite:file:/var/lib/iceberg-rest/catalog.db"
  echo "jdbc.schema-version=V1"
  echo "warehouse=file:///var/lib/iceberg-rest/warehouse"
  while IFS='=' read -r name value; do
    key=${name#CATALOG_}
    key=${key//__/-}
    key=${key//_/.}
    printf '%s=%s\n' "${key,,}" "$value"
  done < <(env | grep -E '^CATALOG_[A-Z0-9_]+=' | sort)
} >"$PROPS"
exec java ${JAVA_OPTS:--Xmx384m} -Dlog4j2.configurationFile=/opt/iceberg-rest/log4j2.properties \
  -cp "/opt/iceberg-rest/classes:/opt/iceberg-rest/libs/*" RestCatalog "$PROPS"
