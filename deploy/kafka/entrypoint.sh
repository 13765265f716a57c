#!/usr/bin/env bash
# Apache Kafka (KRaft, broker and controller) from the jars in /opt/kafka/libs, configured like the official
# apache/kafka image: every KAFKA_* variable is a server property (KAFKA_ dropped, lower-cased, `___` → `-`,
# `__` → `_`, `_` → `.`), the storage is formatted once with CLUSTER_ID, then the broker runs in the foreground.
# KAFKA_HEAP_OPTS and KAFKA_OPTS are JVM options, not properties.
set -euo pipefail
CONFIG=${KAFKA_CONFIG_DIR:-/tmp/kafka}/server.properties
mkdir -p "$(dirname "$CONFIG")"
: >"$CONFIG"
while IFS='=' read -r name value; do
  case "$name" in KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_CONFIG_DIR) continue ;; esac
  key=${name#KAFKA_}
  key=${key//___/-}
  key=${key//__/@}
  key=${key//_/.}
  key=${key//@/_}
  printf '%s=%s\n' "${key,,}" "$value" >>"$CONFIG"
done < <(env | grep -E '^KAFKA_[A-Z0-9_]+=' | sort)
# a single standalone node unless the variables say otherwise
default() { grep -q "^$1=" "$CONFIG" || echo "$1=$2" >>"$CONFIG"; }
default node.id 1
default process.roles broker,controller
default listeners PLAINTEXT://:9092,CONTROLLER://:9093
default advertised.listeners PLAINTEXT://localhost:9092
default controller.listener.names CONTROLLER
default listener.security.protocol.map PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
grep -q '^controller.quorum.bootstrap.servers=' "$CONFIG" || default controller.quorum.voters 1@localhost:9093
for topic in offsets.topic transaction.state.log share.coordinator.state.topic; do
  default "$topic.replication.factor" 1
done
default transaction.state.log.min.isr 1
default share.coordinator.state.topic.min.isr 1
default group.initial.rebalance.delay.ms 0
default log.dirs /var/lib/kafka/data
CP="/opt/kafka/libs/*"
JAVA=(java ${KAFKA_HEAP_OPTS:--Xmx512m} ${KAFKA_OPTS:-} -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties)
FORMAT=(kafka.tools.StorageTool format --ignore-formatted -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$CONFIG")
grep -q '^controller.quorum.voters=' "$CONFIG" || FORMAT+=(--standalone)
"${JAVA[@]}" -cp "$CP" "${FORMAT[@]}" >/dev/null
exec "${JAVA[@]}" -cp "$CP" kafka.Kafka "$CONFIG"
