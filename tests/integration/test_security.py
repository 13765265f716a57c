"""The local broker with SASL: its only client listener (PLAINTEXT is off unless asked for), a client without
credentials is refused, one with them is served, transactions complete (the broker reaches itself over SASL),
and the password is neither in settings' repr, the logs, nor a file others can read. A wrong password ends
`roadwatch produce` and the services with one line that names the user, the servers and the settings."""

import logging
import os
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from apps.testing.openai_server import OpenAICompatibleServer
from roadwatch.ports import free_ports
from roadwatch.settings import ROOT, KafkaSettings
from roadwatch.stack import broker, control
from roadwatch.stack.settings import StackSettings

pytestmark = pytest.mark.integration
PASSWORD = "s3cret-pass"
WRONG = "wr0ng-pass"


def _refused(bootstrap: str) -> str:
    return (
        f"error: authentication failed for user 'camfleet' on {bootstrap} (SASL PLAIN): invalid username or"
        " password; fix ROADWATCH_KAFKA_SASL_USERNAME / ROADWATCH_KAFKA_SASL_PASSWORD, or"
        " ROADWATCH_KAFKA_SASL_MECHANISM if the broker expects another mechanism"
    )


@pytest.fixture(scope="module")
def sasl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    port, controller, sasl = free_ports(3)
    stack = StackSettings(
        home=tmp_path_factory.mktemp("sasl"),
        port=port,
        controller_port=controller,
        sasl_port=sasl,
        sasl_users={"camfleet": SecretStr(PASSWORD)},
        heap="512m",
    )
    client = stack.client_settings()
    with pytest.MonkeyPatch.context() as env:
        # `control.up` reaches the broker as ROADWATCH_KAFKA_* says: through SASL, its only client listener
        env.setenv("ROADWATCH_KAFKA_SECURITY_PROTOCOL", client.security_protocol)
        env.setenv("ROADWATCH_KAFKA_SASL_MECHANISM", str(client.sasl_mechanism))
        env.setenv("ROADWATCH_KAFKA_SASL_USERNAME", str(client.sasl_username))
        env.setenv("ROADWATCH_KAFKA_SASL_PASSWORD", PASSWORD)
        control.up(stack)
    try:
        yield stack
    finally:
        control.down(stack, wipe=True)


def _list(settings: KafkaSettings) -> list[str]:
    admin = AdminClient(settings.client_config(**{"socket.timeout.ms": 3000, "request.timeout.ms": 3000}))
    return list(admin.list_topics(timeout=6).topics)


def _sasl(stack: StackSettings, password: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=stack.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="camfleet",
        sasl_password=SecretStr(password),
    )


def test_without_credentials_refused_with_them_served(
    sasl_stack: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(KafkaException):
        _list(_sasl(sasl_stack, "wrong"))
    with pytest.raises(KafkaException):
        _list(KafkaSettings(bootstrap_servers=sasl_stack.bootstrap))  # plaintext client on the SASL listener
    caplog.set_level(logging.DEBUG)
    good = _sasl(sasl_stack, PASSWORD)
    assert "images.v1" in _list(good)
    assert PASSWORD not in repr(good) and PASSWORD not in caplog.text
    assert PASSWORD not in repr(sasl_stack)


def test_the_plaintext_listener_is_off(sasl_stack: StackSettings) -> None:
    assert sasl_stack.bootstrap == f"127.0.0.1:{sasl_stack.sasl_port}"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sasl_stack.port), timeout=3).close()


def test_a_transaction_commits_over_sasl_only(sasl_stack: StackSettings) -> None:
    """The coordinator writes the commit markers through the inter-broker listener, now SASL."""
    conf = sasl_stack.client_settings().client_config()
    topic, value = "images.v1", uuid.uuid4().bytes
    producer = Producer({**conf, "transactional.id": f"sasl-{uuid.uuid4()}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=value, key=b"k")
    producer.commit_transaction(30)
    consumer = Consumer(
        {
            **conf,
            "group.id": f"sasl-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    try:
        seen: list[bytes | None] = []
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen.append(msg.value())
            if value in seen:
                break
        assert value in seen
    finally:
        consumer.close()


def test_the_password_stays_in_a_private_file(sasl_stack: StackSettings) -> None:
    props = sasl_stack.home / "server.properties"
    assert stat.S_IMODE(props.stat().st_mode) == 0o600 and PASSWORD in props.read_text()
    node = broker.daemon(sasl_stack)
    logged = node.log_file.read_text()
    # the broker logs for real (its whole configuration at start), passwords hidden
    assert "Kafka Server started" in logged and "sasl.enabled.mechanisms = [PLAIN]" in logged
    assert PASSWORD not in logged + node.out_file.read_text()


def test_server_properties_keep_the_password_out_of_the_settings_repr(tmp_path: Path) -> None:
    from roadwatch.stack.broker import server_properties

    s = StackSettings(home=tmp_path, sasl_port=1, sasl_users={"u": SecretStr("pw")})
    assert 'user_u="pw"' in server_properties(s) and "pw" not in repr(s.sasl_users)


def _with_wrong_password(stack: StackSettings, tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of a process that logs in as camfleet with a wrong password (nothing else of the
    caller's roadwatch or Kafka settings)."""
    own = {k: v for k, v in os.environ.items() if not k.startswith(("ROADWATCH_", "KAFKA_"))}
    return own | {
        "ROADWATCH_HOME": str(tmp_path / "home"),
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "ROADWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ROADWATCH_KAFKA_SASL_MECHANISM": "PLAIN",
        "ROADWATCH_KAFKA_SASL_USERNAME": "camfleet",
        "ROADWATCH_KAFKA_SASL_PASSWORD": WRONG,
        **env,
    }


def _one_line_refusal(prog: str, command: list[str], env: dict[str, str]) -> None:
    refused = _refused(env["ROADWATCH_KAFKA_BOOTSTRAP_SERVERS"])
    proc = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert lines[-1] == f"{prog}: {refused}"
    assert "Traceback" not in proc.stderr and WRONG not in proc.stderr + proc.stdout
    assert not [line for line in lines if line.startswith("%")], "librdkafka printed past the logging"
    assert [line for line in lines if "authentication" in line.lower()] == lines[-1:], "said once"


def test_produce_with_a_wrong_password_is_one_line(sasl_stack: StackSettings, tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(b"not read: the broker refuses the login first")
    command = [sys.executable, "-m", "apps.cli", "produce", str(image), "--source", "cam-1"]
    _one_line_refusal("roadwatch", command, _with_wrong_password(sasl_stack, tmp_path))


def test_the_sink_with_a_wrong_password_ends_with_one_line(sasl_stack: StackSettings, tmp_path: Path) -> None:
    env = _with_wrong_password(
        sasl_stack,
        tmp_path,
        ROADWATCH_CATALOG_WAREHOUSE=str(tmp_path / "warehouse"),
        ROADWATCH_SINK_METRICS_PORT="0",
    )
    _one_line_refusal("sink", [sys.executable, "-m", "services.sink"], env)


def test_a_tier_with_a_wrong_password_ends_with_one_line(sasl_stack: StackSettings, tmp_path: Path) -> None:
    server = OpenAICompatibleServer(model="test-fast").start()  # the tier warms up before it reaches Kafka
    try:
        env = _with_wrong_password(
            sasl_stack,
            tmp_path,
            ROADWATCH_VLM_BACKEND="openai",
            ROADWATCH_VLM_FAST_BASE_URL=server.base_url,
            ROADWATCH_VLM_FAST_MODEL="test-fast",
            ROADWATCH_VLM_FAST_METRICS_PORT="0",
        )
        _one_line_refusal("vlm", [sys.executable, "-m", "services.vlm_tier", "--tier", "fast"], env)
    finally:
        server.stop()


def test_the_detector_with_a_wrong_password_ends_with_one_line(
    sasl_stack: StackSettings, tmp_path: Path
) -> None:
    env = _with_wrong_password(sasl_stack, tmp_path, ROADWATCH_DETECTOR_METRICS_PORT="0")
    _one_line_refusal("detector", [sys.executable, "-m", "services.detector"], env)
