#!/usr/bin/env bash
# Healthy when the first listener of KAFKA_ADVERTISED_LISTENERS (else 127.0.0.1:9092) accepts a connection.
set -euo pipefail
first=${KAFKA_ADVERTISED_LISTENERS:-PLAINTEXT://127.0.0.1:9092}
first=${first%%,*}
hostport=${first#*://}
host=${hostport%:*}
exec 3<>"/dev/tcp/${host:-127.0.0.1}/${hostport##*:}"
