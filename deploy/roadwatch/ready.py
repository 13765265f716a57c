"""The roadwatch image's health check: every `/ready` endpoint the container's settings name
(`ROADWATCH_*_METRICS_PORT`, on `ROADWATCH_METRICS_HOST` or loopback) answers 200; a container that serves
none (a one-shot command such as `topics create`) is healthy while it runs."""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    host = os.environ.get("ROADWATCH_METRICS_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    ports = [v for k, v in os.environ.items() if k.startswith("ROADWATCH_") and k.endswith("_METRICS_PORT")]
    for port in ports:
        try:
            urllib.request.urlopen(f"http://{host}:{port}/ready", timeout=3).close()
        except (urllib.error.URLError, OSError) as exc:
            sys.stderr.write(f"not ready: http://{host}:{port}/ready: {exc}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
