#!/usr/bin/env bash
# The compose stack on a host that allows only loopback traffic (`make compose-up` / `compose-down`):
# docker-compose.yml merged with deploy/compose.host.yml, published ports dropped (scripts/compose_host.py),
# run with `docker compose` (v2) where present, else `docker-compose` (v1, Debian's).
#   compose.sh up      start the stack (no gpu/monitoring profiles) and wait until every service is healthy
#                      (one-shot services: exited 0); ROADWATCH_COMPOSE_TIMEOUT_S (default 420) bounds it
#   compose.sh down    stop and remove it; `down --volumes` also deletes its data
#   compose.sh ARGS    any other compose command on the same project (ps, logs, run --rm topic-init ...)
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=${ROADWATCH_COMPOSE_PROJECT:-roadwatch}
RESOLVED=build/docker/compose.host.yml
PY=.venv/bin/python

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

resolve() {
  mkdir -p "$(dirname "$RESOLVED")"
  (umask 077 && compose -p "$PROJECT" -f docker-compose.yml -f deploy/compose.host.yml config \
    | "$PY" scripts/compose_host.py >"$RESOLVED")
}

# every container of the project healthy, or exited 0 when it has no health check and restart "no"
wait_healthy() {
  local deadline=$((SECONDS + ${ROADWATCH_COMPOSE_TIMEOUT_S:-420})) pending id state
  while :; do
    pending=()
    for id in $(compose -p "$PROJECT" -f "$RESOLVED" ps -q); do
      state=$(docker inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")
      set -- $state
      case "$2:$3:${4:-none}" in
        running:*:healthy | running:*:none | exited:0:*) ;;
        exited:*) echo "compose: ${1#/} exited with $3" >&2; compose -p "$PROJECT" -f "$RESOLVED" logs --tail 30 "$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")" >&2; return 1 ;;
        *) pending+=("${1#/}") ;;
      esac
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "compose: not healthy in time: ${pending[*]}" >&2
      return 1
    fi
    sleep 3
  done
}

case "${1:-}" in
  up)
    resolve
    compose -p "$PROJECT" -f "$RESOLVED" up -d
    wait_healthy
    ;;
  "") echo "usage: $0 up|down|COMPOSE-ARGS..." >&2; exit 2 ;;
  *)
    resolve
    compose -p "$PROJECT" -f "$RESOLVED" "$@"
    ;;
esac
