"""The local broker's configuration: which listeners are open with and without SASL, who the broker is on its
own SASL listener, and the properties file that holds the passwords readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from roadwatch.stack.broker import server_properties, write_private
from roadwatch.stack.settings import StackSettings

USERS = {"zed": SecretStr("pw-z"), "amy": SecretStr("pw-a")}


def props(**settings: Any) -> dict[str, str]:
    text = server_properties(StackSettings(port=1, controller_port=2, **settings))
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_plaintext_only_without_sasl() -> None:
    p = props()
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2"
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1"
    assert p["inter.broker.listener.name"] == "PLAINTEXT"
    assert p["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert not any(k.startswith("sasl") or "jaas" in k for k in p)


def test_with_sasl_plaintext_is_off_and_the_broker_logs_in_as_the_first_user() -> None:
    p = props(sasl_port=3, sasl_users=USERS)
    assert p["listeners"] == "SASL_PLAINTEXT://127.0.0.1:3,CONTROLLER://127.0.0.1:2"
    assert p["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:3"
    assert p["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert p["controller.listener.names"] == "CONTROLLER"
    assert p["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert p["sasl.mechanism.inter.broker.protocol"] == "PLAIN"
    assert p["sasl.enabled.mechanisms"] == "PLAIN"
    assert p["listener.name.sasl_plaintext.plain.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="amy" password="pw-a" user_amy="pw-a" user_zed="pw-z";'
    )
    assert "PLAINTEXT://" not in p["listeners"].replace("SASL_PLAINTEXT://", "")


def test_plaintext_beside_sasl_only_when_asked() -> None:
    p = props(sasl_port=3, sasl_users=USERS, plaintext_with_sasl=True)
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:1,SASL_PLAINTEXT://127.0.0.1:3,CONTROLLER://127.0.0.1:2"
    assert p["inter.broker.listener.name"] == "PLAINTEXT"
    assert "sasl.mechanism.inter.broker.protocol" not in p
    assert (
        'required user_amy="pw-a" user_zed="pw-z";'
        in p["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    )


def test_clients_are_pointed_at_the_listener_that_is_open() -> None:
    plain = StackSettings(port=1)
    assert plain.bootstrap == "127.0.0.1:1"
    assert plain.client_settings().client_config()["security.protocol"] == "PLAINTEXT"
    sasl = StackSettings(port=1, sasl_port=3, sasl_users=USERS)
    conf = sasl.client_settings().client_config()
    assert sasl.bootstrap == conf["bootstrap.servers"] == "127.0.0.1:3"
    assert (conf["security.protocol"], conf["sasl.mechanism"]) == ("SASL_PLAINTEXT", "PLAIN")
    assert (conf["sasl.username"], conf["sasl.password"]) == ("amy", "pw-a")
    assert (
        StackSettings(port=1, sasl_port=3, sasl_users=USERS, plaintext_with_sasl=True).bootstrap
        == "127.0.0.1:1"
    )


@pytest.mark.parametrize(
    "users",
    [
        {},  # nobody could log in, the broker included
        {"bad user": SecretStr("pw")},
        {"u": SecretStr('pw" user_admin="x')},  # would add a user to the JAAS line
        {"u": SecretStr("pw\nauto.create.topics.enable=true")},  # would add a property
        {"u": SecretStr("pw\\")},
    ],
)
def test_unusable_or_unsafe_sasl_users_are_refused(users: dict[str, SecretStr]) -> None:
    with pytest.raises(ValidationError):
        StackSettings(sasl_port=3, sasl_users=users)


def test_write_private_is_owner_only_even_over_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("old\n")
    path.chmod(0o644)
    write_private(path, server_properties(StackSettings(home=tmp_path, sasl_port=3, sasl_users=USERS)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert 'user_zed="pw-z"' in path.read_text()
    new = tmp_path / "new.properties"
    write_private(new, "x=1\n")
    assert stat.S_IMODE(new.stat().st_mode) == 0o600 and new.read_text() == "x=1\n"


def test_the_listener_ports_are_the_open_ones() -> None:
    from roadwatch.stack.broker import listener_ports

    assert listener_ports(StackSettings(port=1, controller_port=2)) == [1, 2]
    assert listener_ports(StackSettings(port=1, controller_port=2, sasl_port=3, sasl_users=USERS)) == [3, 2]
    both = StackSettings(port=1, controller_port=2, sasl_port=3, sasl_users=USERS, plaintext_with_sasl=True)
    assert listener_ports(both) == [1, 3, 2]


def test_a_held_port_stops_the_start_with_its_number(tmp_path: Path) -> None:
    import socket

    from roadwatch.errors import StackError
    from roadwatch.stack import broker

    with socket.socket() as held, socket.socket() as free:
        held.bind(("127.0.0.1", 0))
        held.listen()
        free.bind(("127.0.0.1", 0))
        port, other = held.getsockname()[1], free.getsockname()[1]
        free.close()
        with pytest.raises(StackError, match=rf"port {port} on 127.0.0.1 is held by another process"):
            broker.start(StackSettings(home=tmp_path, port=other, controller_port=port))
    assert not (tmp_path / "kafka.pid").exists()
