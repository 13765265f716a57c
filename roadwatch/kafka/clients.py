"""Builders for the producers and consumers every service uses (settings in, client out; none at import).

Every client built here reports through a `ClientWatch` (its `error_cb` and `logger`): librdkafka's own
log lines go to the `roadwatch.kafka.librdkafka` logger, throttled per process (a broker that cannot be
reached is one line per broker every `THROTTLE_S`: `broker 127.0.0.1:19092 unreachable, retrying:
connection refused`), and a refused login raises AuthenticationError out of the client call that served the
callback (`poll`, `consume`, `flush`), naming the user, the bootstrap servers, the mechanism and the
settings to fix. A builder returns only once the cluster answered; a cluster that does not answer within
`START_TIMEOUT_S` is a StackError naming the bootstrap setting. Outages after that are retried as
librdkafka does, with the same throttled line.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from roadwatch.errors import AuthenticationError, StackError
from roadwatch.logs import Throttle, held_back
from roadwatch.settings import KafkaSettings
from roadwatch.startup import setting_name

LIBRDKAFKA = logging.getLogger("roadwatch.kafka.librdkafka")
START_TIMEOUT_S = 60.0  # how long a service waits at start-up for the cluster to answer
THROTTLE_S = 10.0
AUTH_FAILED = (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED)
UNREACHABLE = (KafkaError._TRANSPORT, KafkaError._RESOLVE)
# one per process: the four clients of a detector whose broker is gone still log one line per interval
_THROTTLE = Throttle(THROTTLE_S)
_THREAD = re.compile(r"^\[thrd:[^\]]*\]: ")
_BROKER = re.compile(r"^(?:[a-z_]+://)?(?P<broker>[^\s/]+?)(?:/\S*)?: (?P<text>.*)$", re.DOTALL)
_NOISE = re.compile(r",? ?\(?(?:after \d+ms in state \w+|\d+ identical error\(s\) suppressed)\)?")
_CONNECT = re.compile(r"^Connect to \S+ failed: ")
_AUTH_PREFIX = re.compile(r"^(?:SASL authentication error: )?(?:Authentication failed: )?", re.IGNORECASE)

C = TypeVar("C", Consumer, Producer)


class Client(Protocol):
    """What `ClientWatch.await_cluster` needs of a producer, consumer or admin client."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...

    def poll(self, timeout: float = -1) -> Any: ...


def broker_line(text: str) -> tuple[str, str] | None:
    """`(broker, what happened)` for a librdkafka line about one broker, its noise (thread, broker id,
    `after 1ms in state CONNECT`) removed; None for any other line.

    >>> broker_line("[thrd:127.0.0.1:19092/bootstrap]: 127.0.0.1:19092/bootstrap: Connect to "
    ...             "ipv4#127.0.0.1:19092 failed: Connection refused (after 0ms in state CONNECT)")
    ('127.0.0.1:19092', 'connection refused')
    """
    found = _BROKER.match(_THREAD.sub("", text))
    if found and ":" not in found["broker"]:  # a logical broker, `GroupCoordinator: 127.0.0.1:19092: ...`
        found = _BROKER.match(found["text"])
    if not found or ":" not in found["broker"]:
        return None
    return found["broker"], _sentence_part(_CONNECT.sub("", _NOISE.sub("", found["text"]).strip()))


def _sentence_part(text: str) -> str:
    """`text` to follow a colon: its first letter lower-cased unless it starts an acronym (`SASL`)."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


class ClientWatch:
    """One client's `error_cb` and `logger` (the object confluent_kafka calls `log(level, fmt, *args)`
    on), built from the client's librdkafka configuration. Both run in whichever call serves the client's
    queue: `poll`, `consume`, `flush`, `close`. `quiet`: a broker that cannot be reached is expected (it
    is starting), logged at DEBUG only. `throttle` defaults to the one every client of the process shares."""

    def __init__(
        self, conf: dict[str, Any], *, quiet: bool = False, throttle: Throttle | None = None
    ) -> None:
        self.bootstrap = str(conf.get("bootstrap.servers", ""))
        self.user: str | None = conf.get("sasl.username")
        self.mechanism = str(conf.get("sasl.mechanism", "GSSAPI"))  # librdkafka's default
        self.protocol = str(conf.get("security.protocol", "PLAINTEXT"))
        self.last_failure: str | None = None  # what the last failed connection said
        self._conf, self._refused = conf, False
        self._unreachable_level = logging.DEBUG if quiet else logging.WARNING
        self._throttle = _THROTTLE if throttle is None else throttle

    def config(self) -> dict[str, Any]:
        """The client's configuration with this watch's callbacks in it."""
        return {**self._conf, "error_cb": self.on_error, "logger": self}

    def on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback.

        Raises:
            AuthenticationError: the first time the brokers refuse the login (not again: the client's
                `close` serves the same callback).
        """
        code = err.code()
        if code in AUTH_FAILED:
            if not self._refused:
                self._refused = True
                raise AuthenticationError(self.refused(err.str()))
        elif code in UNREACHABLE:  # the broker's FAIL line says it (throttled); keep what it was for later
            line = broker_line(err.str())
            self.last_failure = line[1] if line else err.str()
        elif code != KafkaError._ALL_BROKERS_DOWN:
            held = self._throttle.admit(("error", code))
            if held is not None:
                level = logging.ERROR if err.fatal() else logging.WARNING
                LIBRDKAFKA.log(level, "Kafka client error: %s%s", err.str(), held_back(held))

    def log(self, level: int, fmt: str, *args: Any) -> None:
        """A librdkafka log line (`fmt` is `"%s [%s] %s"`: facility, client name, text), throttled: a
        broker connection that failed becomes `broker B unreachable, retrying: why` at WARNING, a refused
        login DEBUG (the AuthenticationError says it), anything else keeps its level and text."""
        facility, text = (str(args[0]), str(args[-1])) if len(args) == 3 else ("", fmt % args)
        line = broker_line(text) if facility == "FAIL" else None
        if line is not None and "authentication" in line[1].lower():
            LIBRDKAFKA.debug("broker %s: %s", *line)
        elif line is not None and level >= logging.WARNING:
            self.last_failure = line[1]
            held = self._throttle.admit(("unreachable", line[0], self._unreachable_level))
            if held is not None:
                msg = "broker %s unreachable, retrying: %s%s"
                LIBRDKAFKA.log(self._unreachable_level, msg, *line, held_back(held))
        else:
            plain = _THREAD.sub("", text)
            held = self._throttle.admit((facility, _NOISE.sub("", plain)))
            if held is not None:
                LIBRDKAFKA.log(level, "%s %s%s", facility, plain, held_back(held))

    def await_cluster(
        self, client: Client, timeout_s: float, gone: Callable[[], str | None] | None = None
    ) -> None:
        """Block until the cluster answers `client`'s metadata request. `gone`, when given, says why the
        broker being waited for can no longer answer (it exited), or None while it may.

        Raises:
            AuthenticationError: the brokers refused the login (as soon as the refusal is served).
            StackError: no broker answered within `timeout_s`; says why the last connection failed and
                names the bootstrap setting. Or `gone` gave a reason (at once, not after `timeout_s`).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            why = gone() if gone is not None else None
            if why is not None:
                raise StackError(why)
            try:
                if client.list_topics(timeout=min(1.0, max(deadline - time.monotonic(), 0.1))).brokers:
                    return
            except KafkaException as exc:
                self.last_failure = self.last_failure or exc.args[0].str()
            client.poll(0)  # serves the callbacks: a refused login raises here
            if time.monotonic() >= deadline:
                raise StackError(self.unreachable(timeout_s))

    def refused(self, detail: str) -> str:
        """The one line for a refused login: who, where, how, why, and what to fix."""
        line = broker_line(detail)
        why = _sentence_part(_AUTH_PREFIX.sub("", line[1] if line else detail))
        who = f"user {self.user!r}" if self.user else "a client without a user name"
        fix = f"{_name('sasl_username')} / {_name('sasl_password')}"
        return (
            f"authentication failed for {who} on {self.bootstrap} (SASL {self.mechanism}): {why}; fix"
            f" {fix}, or {_name('sasl_mechanism')} if the broker expects another mechanism"
        )

    def unreachable(self, timeout_s: float) -> str:
        """The one line for a cluster that did not answer at start-up."""
        why = f" ({self.last_failure})" if self.last_failure else ""
        if re.search(r"security\.protocol|ApiVersion|disconnected", why):  # a listener of another protocol
            fix = (
                f"something listens there but hung up: set {_name('security_protocol')} to its protocol"
                f" (now {self.protocol}), or {_name('bootstrap_servers')} to another listener"
            )
        else:
            fix = f"start it, or set {_name('bootstrap_servers')} to a running broker"
        return f"Kafka at {self.bootstrap} did not answer within {timeout_s:g}s{why}; {fix}"


def _name(field: str) -> str:
    return setting_name(KafkaSettings, field)


def ready(make: Callable[[dict[str, Any]], C], conf: dict[str, Any], timeout_s: float = START_TIMEOUT_S) -> C:
    """`make(conf)` with a ClientWatch's callbacks, once the cluster answers it (a consumer that does not
    is closed again).

    Raises:
        AuthenticationError: the brokers refused the login.
        StackError: the cluster did not answer within `timeout_s`.
    """
    watch = ClientWatch(conf)
    client = make(watch.config())
    try:
        watch.await_cluster(client, timeout_s)
    except BaseException:
        if isinstance(client, Consumer):
            client.close()
        raise
    return client


def idempotent_producer(kafka: KafkaSettings, **overrides: Any) -> Producer:
    """acks=all, idempotence, zstd, linger for batching; returned once the cluster answers (see `ready`)."""
    return ready(
        Producer,
        kafka.client_config(
            **{
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 20,
                "batch.size": 1_000_000,
                **overrides,
            }
        ),
    )


def transactional_producer(kafka: KafkaSettings, transactional_id: str, **overrides: Any) -> Producer:
    """A producer for read-process-write transactions; `init_transactions` already called."""
    producer = idempotent_producer(
        kafka, **{"transactional.id": transactional_id, "transaction.timeout.ms": 60_000, **overrides}
    )
    producer.init_transactions(30)
    return producer


def consumer(kafka: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    """read_committed, no auto commit, no auto offset store: offsets move only after the effect. Returned
    once the cluster answers (see `ready`)."""
    return ready(
        Consumer,
        kafka.client_config(
            **{
                "group.id": group_id,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                **overrides,
            }
        ),
    )


def member_id(group_id: str, instance_id: str) -> str:
    """A service instance's static group membership id, also its transactional id: a restarted instance
    takes its partitions straight back and fences its previous producer."""
    return f"{group_id}-{instance_id}"
