#!/usr/bin/env bash
# Set up roadwatch on a fresh machine: the main virtualenv (.venv) and the Flink one (.venv-flink).
# Idempotent: a second run only checks. Needs Python 3.11+, Java 17+ and Maven (for the Kafka jars).
# Opt-ins: ROADWATCH_WITH_ULTRALYTICS=1 and ROADWATCH_WITH_RFDETR=1 add those extras to .venv (torch from
# PyPI, a CUDA build that also runs on CPU: a few GB, downloaded once and then taken from uv's cache);
# ROADWATCH_SKIP_FLINK=1 leaves .venv-flink alone. On a Debian host, as root, it installs Debian's Chromium
# for the console's browser tests (Playwright drives it; it never downloads a browser of its own);
# ROADWATCH_SKIP_BROWSER=1 leaves that out (the browser tests then skip, saying why); likewise Debian's
# Prometheus for the cluster profile (ROADWATCH_SKIP_PROMETHEUS=1 leaves it out).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ needed" >&2; exit 1; }
command -v java >/dev/null || { echo "Java 17+ needed (the local Kafka broker runs on it)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "Maven needed once (resolves the Kafka jars from Maven Central)" >&2; exit 1; }

if [ ! -x .venv/bin/uv ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check uv
fi
EXTRAS=dev
[ "${ROADWATCH_WITH_ULTRALYTICS:-0}" != "1" ] || EXTRAS=$EXTRAS,ultralytics
[ "${ROADWATCH_WITH_RFDETR:-0}" != "1" ] || EXTRAS=$EXTRAS,rfdetr
.venv/bin/uv pip install -q -p .venv/bin/python -e ".[$EXTRAS]"

if [ "${ROADWATCH_SKIP_FLINK:-0}" != "1" ]; then
  [ -x .venv-flink/bin/python ] || .venv/bin/uv venv -q -p "$PY" .venv-flink
  .venv/bin/uv pip install -q -p .venv-flink/bin/python -r flink_jobs/requirements.txt
fi
# Bytecode for every module, once (later runs only check): uv installs none, and where
# PYTHONDONTWRITEBYTECODE is set no process writes any, so each service start would compile its imports
# again (measured: the sink's imports take 5.0 s of CPU without, 2.1 s with). A file that does not compile
# on this Python cannot be imported by it either (torch ships a 3.12-only test file): it is counted, said,
# and left as source.
for venv in .venv .venv-flink; do
  [ -x "$venv/bin/python" ] || continue
  # compileall exits 1 when any file fails, grep when none does: the count is what matters
  failed=$("$venv/bin/python" -m compileall -q -j 0 "$venv"/lib/python3*/site-packages \
    | grep -c '^\*\*\* Error compiling') || true
  [ "$failed" = 0 ] || echo "$venv: $failed file(s) do not compile on this Python; left as source" >&2
done
.venv/bin/python -m compileall -q -j 0 roadwatch services apps flink_jobs >/dev/null
if [ "${ROADWATCH_SKIP_BROWSER:-0}" != "1" ] && ! command -v chromium >/dev/null \
  && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium (the console's browser tests)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }
fi
if [ "${ROADWATCH_SKIP_PROMETHEUS:-0}" != "1" ] && ! command -v prometheus >/dev/null \
  && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's prometheus (the cluster profile's stack)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
fi
echo "roadwatch set up: .venv [$EXTRAS]$( [ "${ROADWATCH_SKIP_FLINK:-0}" = 1 ] || echo ' and .venv-flink')"
