"""The services' health as their own endpoints tell it: `/ready`, and from `/metrics` the breaker state
of a tier and the consumer lag. Each service is asked on loopback at its metrics port, with a short
timeout: a service that does not answer is shown as down, not waited for."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

BREAKER = {0.0: "closed", 1.0: "open", 2.0: "half-open"}


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    port: int
    up: bool
    ready: bool
    lag: int | None = None  # records behind, summed over its partitions
    breaker: str | None = None  # a tier's circuit breaker


def parse(service: str, port: int, ready: bool, metrics_text: str) -> ServiceHealth:
    """One service's health from its `/metrics` text."""
    lag, breaker = None, None
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "roadwatch_consumer_lag":
                lag = (lag or 0) + int(sample.value)
            elif sample.name == "roadwatch_breaker_state":
                breaker = BREAKER.get(sample.value, str(sample.value))
    return ServiceHealth(service, port, True, ready, lag, breaker)


def probe(service: str, port: int, timeout_s: float = 0.5) -> ServiceHealth:
    """Ask one service on 127.0.0.1:`port`."""
    base = f"http://127.0.0.1:{port}"
    try:
        ready = httpx.get(f"{base}/ready", timeout=timeout_s).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=timeout_s).text
    except httpx.HTTPError:
        return ServiceHealth(service, port, False, False)
    return parse(service, port, ready, metrics)
