"""Entry point of the roadwatch Flink image: the apache-flink distribution that the PyFlink wheel ships,
configured like the official flink image. `jobmanager` and `taskmanager` run that daemon in the foreground;
anything else (`flink run ...`) runs as given; `health` is the image's health check (a JobManager's REST
API answers; any other role is healthy while it runs). The configuration is the distribution's Java
options, the defaults below (the venv's Python for the client and the workers), then FLINK_PROPERTIES,
one `key: value` a line, which win."""

import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

VENV = Path(sys.executable).parent.parent
DISTRIBUTION = next(VENV.glob("lib/python3*/site-packages/pyflink"))
CONF = Path(os.environ.get("FLINK_CONF_DIR", "/tmp/flink-conf"))
LOG_FILES = ("log4j-console.properties", "log4j-cli.properties", "log4j.properties")
DAEMONS = {"jobmanager": "jobmanager.sh", "taskmanager": "taskmanager.sh"}


def properties(text: str) -> dict[str, str]:
    """FLINK_PROPERTIES: `key: value` lines; blank lines and `#` comments are skipped, anything else fails."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        if not sep or not key.strip():
            raise SystemExit(
                f"flink entrypoint: FLINK_PROPERTIES line {number} is not `key: value`: {line!r}"
            )
        out[key.strip()] = value.strip()
    return out


def config() -> dict[str, str]:
    base = (DISTRIBUTION / "conf" / "config.yaml").read_text()
    opts = re.search(r"^\s*all:\s*(.+)$", base, re.MULTILINE)
    if opts is None:
        raise SystemExit(f"flink entrypoint: {DISTRIBUTION}/conf/config.yaml has no env.java.opts.all line")
    python = str(VENV / "bin" / "python")
    defaults = {
        "env.java.opts.all": opts.group(1).strip(),
        "jobmanager.rpc.address": "localhost",
        "jobmanager.bind-host": "0.0.0.0",
        "taskmanager.bind-host": "0.0.0.0",
        "rest.bind-address": "0.0.0.0",
        "taskmanager.numberOfTaskSlots": "4",
        "python.executable": python,
        "python.client.executable": python,
    }
    return {**defaults, **properties(os.environ.get("FLINK_PROPERTIES", ""))}


def health() -> int:
    """0 when this container's JobManager answers on its REST port (or it runs no JobManager), else 1."""
    role = CONF / "role"
    if not role.exists() or role.read_text() != "jobmanager":
        return 0
    settings = json.loads((CONF / "config.yaml").read_text())
    url = f"http://127.0.0.1:{settings.get('rest.port', '8081')}/overview"
    try:
        urllib.request.urlopen(url, timeout=3).close()
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"not ready: {url}: {exc}\n")
        return 1
    return 0


def main(argv: list[str]) -> None:
    if argv[:1] == ["health"]:
        sys.exit(health())
    if not argv:
        raise SystemExit(
            "usage: jobmanager | taskmanager | COMMAND [ARG...]  (e.g. flink run -d -pym MODULE)"
        )
    CONF.mkdir(parents=True, exist_ok=True)
    for name in LOG_FILES:
        shutil.copy(DISTRIBUTION / "conf" / name, CONF / name)
    (CONF / "config.yaml").write_text(json.dumps(config(), indent=2) + "\n")
    (CONF / "role").write_text(argv[0])
    os.environ["FLINK_CONF_DIR"] = str(CONF)
    os.environ.setdefault("FLINK_LOG_DIR", "/tmp/flink-log")
    os.environ["PATH"] = f"{DISTRIBUTION / 'bin'}:{VENV / 'bin'}:{os.environ['PATH']}"
    if argv[0] in DAEMONS:
        script = str(DISTRIBUTION / "bin" / DAEMONS[argv[0]])
        os.execv(script, [script, "start-foreground", *argv[1:]])
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
