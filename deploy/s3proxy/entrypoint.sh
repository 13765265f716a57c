#!/usr/bin/env bash
# s3proxy: an S3 API server with signature checks on a filesystem backend (/var/lib/s3proxy, the volume that
# keeps it). S3_ACCESS_KEY / S3_SECRET_KEY are the one identity it accepts, S3_HOST (default 0.0.0.0) and
# S3_PORT (default 9000) where it listens; each bucket of S3_BUCKETS (comma-separated, default "warehouse")
# is a directory made before it serves. The properties file (it holds the secret) is readable by this user only.
set -euo pipefail
: "${S3_ACCESS_KEY:?S3_ACCESS_KEY is required}" "${S3_SECRET_KEY:?S3_SECRET_KEY is required}"
BASE=/var/lib/s3proxy
IFS=',' read -ra buckets <<<"${S3_BUCKETS:-warehouse}"
for bucket in "${buckets[@]}"; do mkdir -p "$BASE/$bucket"; done
umask 077
PROPS=$(mktemp -d)/s3proxy.properties
cat >"$PROPS" <<PROPS
s3proxy.endpoint=http://${S3_HOST:-0.0.0.0}:${S3_PORT:-9000}
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$BASE
jclouds.identity=$S3_ACCESS_KEY
jclouds.credential=$S3_SECRET_KEY
PROPS
exec java ${JAVA_OPTS:--Xmx256m} -jar /opt/s3proxy/s3proxy.jar --properties "$PROPS"
