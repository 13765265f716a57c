"""Read a resolved compose configuration (`docker compose ... config`) on stdin and write it for a host that
allows only loopback traffic: the published ports dropped (host networking publishes nothing, and a merged
override cannot remove a list entry in compose v1). Fails when a service is not on the host's network."""

import sys

import yaml


def host_only(config: dict[str, object]) -> dict[str, object]:
    services = config.get("services")
    if not isinstance(services, dict):
        raise SystemExit("compose_host: the configuration has no services")
    off_host = sorted(name for name, s in services.items() if s.get("network_mode") != "host")
    if off_host:
        raise SystemExit(f"compose_host: not on host networking: {', '.join(off_host)}")
    for service in services.values():
        service.pop("ports", None)
    config.pop("networks", None)
    return config


def main() -> None:
    config = yaml.safe_load(sys.stdin)
    if not isinstance(config, dict):
        raise SystemExit("compose_host: stdin is not a compose configuration")
    yaml.safe_dump(host_only(config), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
