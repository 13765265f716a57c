"""The local broker with a SASL listener: a client without credentials is refused, one with them is served,
and the password never appears in settings' repr or logs."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from roadwatch.settings import KafkaSettings
from roadwatch.stack import control
from roadwatch.stack.settings import StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sasl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    stack = StackSettings(
        home=tmp_path_factory.mktemp("sasl"),
        port=39092,
        controller_port=39093,
        sasl_port=39094,
        sasl_users={"camfleet": SecretStr("s3cret-pass")},
        heap="512m",
    )
    control.up(stack)
    try:
        yield stack
    finally:
        control.down(stack, wipe=True)


def _list(settings: KafkaSettings) -> list[str]:
    admin = AdminClient(settings.client_config(**{"socket.timeout.ms": 3000, "request.timeout.ms": 3000}))
    return list(admin.list_topics(timeout=6).topics)


def test_without_credentials_refused_with_them_served(
    sasl_stack: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    address = f"127.0.0.1:{sasl_stack.sasl_port}"
    with pytest.raises(KafkaException):
        _list(
            KafkaSettings(
                bootstrap_servers=address,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN",
                sasl_username="camfleet",
                sasl_password=SecretStr("wrong"),
            )
        )
    with pytest.raises(KafkaException):
        _list(KafkaSettings(bootstrap_servers=address))  # plaintext client on the SASL listener
    caplog.set_level(logging.DEBUG)
    good = KafkaSettings(
        bootstrap_servers=address,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="camfleet",
        sasl_password=SecretStr("s3cret-pass"),
    )
    assert "images.v1" in _list(good)
    assert "s3cret-pass" not in repr(good) and "s3cret-pass" not in caplog.text
    assert "s3cret-pass" not in repr(sasl_stack)


def test_server_properties_keep_the_password_out_of_the_settings_repr(tmp_path: Path) -> None:
    from roadwatch.stack.broker import server_properties

    s = StackSettings(home=tmp_path, sasl_port=1, sasl_users={"u": SecretStr("pw")})
    assert 'user_u="pw"' in server_properties(s) and "pw" not in repr(s.sasl_users)
