"""The detector as a process on the real broker: its readiness turns false while an image fetch is stuck
(an allowed host that trickles) and true again once the fetch hits its deadline, whose record is one dead
letter `timeout`; a bad `thresholds.v1` record is dead-lettered once, not again after a restart."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from roadwatch.kafka.topics import dlq
from roadwatch.ports import free_port
from roadwatch.settings import KafkaSettings
from schemas import DeadLetter
from tests.helpers import read_committed, wait_for
from tests.integration.test_detector import detector_env, topics  # noqa: F401 - the topics fixture
from tests.integration.test_hostile import band, event
from tests.services import running

pytestmark = pytest.mark.integration


def ready(port: int) -> tuple[int, str]:
    """/ready's status and body; (0, why) while nothing answers (the service is still starting)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/ready")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


@pytest.fixture
def trickling_host() -> Iterator[str]:
    """An HTTP server on loopback that sends its headers, then one body byte a second: no read times out,
    the whole fetch never ends by itself."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                return  # the detector gave up on it: what the test wants

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_readiness_is_false_while_a_fetch_is_stuck_and_the_record_is_a_timeout_dead_letter(
    kafka: KafkaSettings,
    topics: dict[str, str],  # noqa: F811
    producer_factory,
    shared_dir: Path,
    tmp_path: Path,
    trickling_host: str,
) -> None:
    port = free_port()
    env = detector_env(kafka, topics, shared_dir) | {
        "ROADWATCH_DETECTOR_ALLOWED_HTTP_HOSTS": "127.0.0.1",
        "ROADWATCH_DETECTOR_METRICS_PORT": str(port),
        "ROADWATCH_DETECTOR_FETCH_TIMEOUT_S": "8",
        "ROADWATCH_DETECTOR_FETCH_STUCK_S": "1",
    }
    with running("services.detector", env, tmp_path / "det.log") as det:
        wait_for(lambda: ready(port)[0] == 200, 120, "the detector to be ready")
        producer = producer_factory()
        producer.produce(topics["images"], key=b"cam-s", value=event("cam-s", uri=f"{trickling_host}/a.jpg"))
        producer.flush(10)
        wait_for(lambda: ready(port)[0] == 503, 30, "readiness to turn false on the stuck fetch", every_s=0.2)
        assert "image load running for" in ready(port)[1]
        wait_for(lambda: ready(port)[0] == 200, 30, "readiness to come back after the deadline", every_s=0.2)
        letters = read_committed(kafka.bootstrap_servers, topics["dlq"], idle_s=2)
        assert [DeadLetter.model_validate_json(m.value()).reason for m in letters] == ["timeout"]
        assert det.alive()


def test_a_bad_thresholds_record_is_dead_lettered_once_across_a_restart(
    kafka: KafkaSettings,
    topics: dict[str, str],  # noqa: F811
    producer_factory,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    env = detector_env(kafka, topics, shared_dir) | {"ROADWATCH_DETECTOR_METRICS_PORT": str(port)}
    letters_topic = dlq(topics["thresholds"])
    producer = producer_factory()
    for key, value in [(b"cam-t", b"not json"), (b"adv-victim", band("adv-mal", 0.0, 0.0))]:
        producer.produce(topics["thresholds"], key=key, value=value)
    producer.flush(10)

    def letters() -> list[str]:
        got = read_committed(kafka.bootstrap_servers, letters_topic, idle_s=2)
        return [DeadLetter.model_validate_json(m.value()).reason for m in got]

    for start in range(2):
        with running("services.detector", env, tmp_path / f"det-{start}.log"):
            wait_for(lambda: ready(port)[0] == 200, 120, "the detector to be ready")
            if start == 1:  # a record after the restart is new: it gets its dead letter
                producer.produce(topics["thresholds"], key=b"cam-t", value=b"{")
                producer.flush(10)
            wait_for(lambda n=2 + start: len(letters()) >= n, 60, "the dead letters")
    assert sorted(letters()) == ["key_mismatch", "undecodable", "undecodable"]
