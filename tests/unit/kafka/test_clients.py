"""What librdkafka says, as roadwatch reports it: a broker that cannot be reached is one line per interval,
a refused login one AuthenticationError naming the user, the servers and the settings to fix, and a cluster
that never answers one StackError naming the bootstrap setting. The lines below are librdkafka 2.16's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException

from roadwatch.errors import AuthenticationError, ConfigError, StackError
from roadwatch.kafka.clients import ClientWatch, broker_line, ready
from roadwatch.logs import Throttle
from roadwatch.settings import KafkaSettings

REFUSED = (
    "[thrd:127.0.0.1:19092/bootstrap]: 127.0.0.1:19092/bootstrap: Connect to ipv4#127.0.0.1:19092 failed:"
    " Connection refused (after 0ms in state CONNECT)"
)
BAD_LOGIN = (
    "sasl_plaintext://127.0.0.1:39094/bootstrap: SASL authentication error: Authentication failed:"
    " Invalid username or password (after 301ms in state AUTH_REQ)"
)
SASL = {
    "bootstrap.servers": "127.0.0.1:39094",
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "camfleet",
    "sasl.password": "wrong-pass",
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _settings_from_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting names are read off the environment: none of the Kafka ones is set here."""
    for var in ("ROADWATCH_CONFIG", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(var, raising=False)
    for field in KafkaSettings.model_fields:
        monkeypatch.delenv(f"ROADWATCH_KAFKA_{field.upper()}", raising=False)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (REFUSED, ("127.0.0.1:19092", "connection refused")),
        (
            "[thrd:GroupCoordinator]: GroupCoordinator: 127.0.0.1:29092: Connect to ipv4#127.0.0.1:29092"
            " failed: Connection refused (after 0ms in state CONNECT, 3 identical error(s) suppressed)",
            ("127.0.0.1:29092", "connection refused"),
        ),
        (
            "127.0.0.1:39094/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN"
            " (after 0ms in state UP)",
            ("127.0.0.1:39094", "disconnected: connection closed by peer: receive 0 after POLLIN"),
        ),
        (
            BAD_LOGIN,
            (
                "127.0.0.1:39094",
                "SASL authentication error: Authentication failed: Invalid username or password",
            ),
        ),
        ("[thrd:app]: Configuration property dr_cb is a producer property and will be ignored", None),
    ],
)
def test_a_line_about_a_broker_loses_its_noise(text: str, line: tuple[str, str] | None) -> None:
    assert broker_line(text) == line


def test_a_dead_broker_is_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="roadwatch.kafka.librdkafka")
    clock = Clock()
    watch = ClientWatch({"bootstrap.servers": "127.0.0.1:19092"}, throttle=Throttle(10.0, clock=clock))
    for _ in range(20):  # librdkafka retries every 50 ms or so
        watch.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", REFUSED)
        clock.now += 0.05
    clock.now = 10.5
    watch.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", REFUSED)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "broker 127.0.0.1:19092 unreachable, retrying: connection refused"),
        (
            logging.WARNING,
            "broker 127.0.0.1:19092 unreachable, retrying: connection refused (and 19 more like it)",
        ),
    ]
    assert watch.last_failure == "connection refused"


def test_other_lines_keep_their_level_and_are_throttled_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="roadwatch.kafka.librdkafka")
    watch = ClientWatch({"bootstrap.servers": "b:1"}, throttle=Throttle(10.0, clock=Clock()))
    text = "[thrd:app]: Configuration property dr_cb is a producer property and will be ignored"
    for _ in range(3):
        watch.log(logging.WARNING, "%s [%s] %s", "CONFWARN", "rdkafka#consumer-1", text)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "CONFWARN Configuration property dr_cb is a producer property and will be ignored")
    ]


def test_a_refused_login_is_one_error_naming_user_servers_and_settings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    watch = ClientWatch(SASL)
    watch.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", f"[thrd:x]: {BAD_LOGIN}")
    assert not caplog.records, "the error says it; the log line is DEBUG only"
    refusal = KafkaError(KafkaError._AUTHENTICATION, BAD_LOGIN)
    with pytest.raises(AuthenticationError) as caught:
        watch.on_error(refusal)
    assert str(caught.value) == (
        "authentication failed for user 'camfleet' on 127.0.0.1:39094 (SASL PLAIN): invalid username or"
        " password; fix ROADWATCH_KAFKA_SASL_USERNAME / ROADWATCH_KAFKA_SASL_PASSWORD, or"
        " ROADWATCH_KAFKA_SASL_MECHANISM if the broker expects another mechanism"
    )
    assert isinstance(caught.value, ConfigError) and "wrong-pass" not in str(caught.value)
    watch.on_error(refusal)  # served again by the client's close(): not raised twice


def test_the_settings_are_named_as_the_user_set_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "roadwatch.toml"
    config.write_text('[kafka]\nsasl_password = "wrong-pass"\n')
    monkeypatch.setenv("ROADWATCH_CONFIG", str(config))
    monkeypatch.setenv("ROADWATCH_KAFKA_SASL_USERNAME", "camfleet")
    with pytest.raises(AuthenticationError) as caught:
        ClientWatch(SASL).on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_LOGIN))
    assert f"fix ROADWATCH_KAFKA_SASL_USERNAME / [kafka] sasl_password in {config}," in str(caught.value)


class RefusingClient:
    """A client whose metadata requests fail and whose poll serves a refused login."""

    def __init__(self, watch: ClientWatch) -> None:
        self.watch, self.polls = watch, 0

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> object:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Failed to get metadata"))

    def poll(self, timeout: float = -1) -> None:
        self.polls += 1
        self.watch.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_LOGIN))


def test_the_wait_for_the_cluster_ends_at_the_first_refusal() -> None:
    watch = ClientWatch(SASL)
    client = RefusingClient(watch)
    with pytest.raises(AuthenticationError, match="authentication failed for user 'camfleet'"):
        watch.await_cluster(client, timeout_s=60)
    assert client.polls == 1


def test_a_cluster_that_never_answers_is_one_line_naming_the_bootstrap_setting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A real client against a closed port (9, discard: nothing listens)."""
    caplog.set_level(logging.WARNING, logger="roadwatch.kafka.librdkafka")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    conf = KafkaSettings().client_config(**{"group.id": "never-joined"})
    with pytest.raises(StackError) as caught:
        ready(Consumer, conf, timeout_s=1.5)
    assert str(caught.value) == (
        "Kafka at 127.0.0.1:9 did not answer within 1.5s (connection refused); start it, or set"
        " KAFKA_BOOTSTRAP_SERVERS to a running broker"
    )
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["broker 127.0.0.1:9 unreachable, retrying: connection refused"]


def test_a_listener_of_another_protocol_names_the_security_setting() -> None:
    watch = ClientWatch({"bootstrap.servers": "127.0.0.1:39094"})
    watch.last_failure = "disconnected: connection closed by peer: receive 0 after POLLIN"
    assert watch.unreachable(10).endswith(
        "something listens there but hung up: set ROADWATCH_KAFKA_SECURITY_PROTOCOL to its protocol"
        " (now PLAINTEXT), or ROADWATCH_KAFKA_BOOTSTRAP_SERVERS to another listener"
    )
