"""Each service its own SASL principal, and ACLs that allow only what it needs: a SASL-only stack of its own
(free ports) with users for the detector and the fast tier and `roadwatch stack up` applying the plan. The
detector may write detections but not thresholds, the fast tier may not write images, the detector's
read-process-write transaction under its own transactional id and group commits (under another tier's id it
is refused), its thresholds reader commits past its dead letters in its own group, the broker user still
creates topics and nobody else can, and only the broker user gets through the controller listener (where
ACLs can be made)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)
from pydantic import SecretStr

from roadwatch.kafka.clients import consumer, idempotent_producer, member_id, transactional_producer
from roadwatch.kafka.topics import DETECTIONS, IMAGES, THRESHOLDS, dlq
from roadwatch.ports import free_ports
from roadwatch.settings import KafkaSettings
from roadwatch.stack import acls, control
from roadwatch.stack.jars import kafka_classpath
from roadwatch.stack.settings import StackSettings

pytestmark = pytest.mark.integration
PASSWORDS = {"admin": "admin-pw", "detector": "detector-pw", "vlm-fast": "fast-pw"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    port, controller, sasl = free_ports(3)
    s = StackSettings(
        home=tmp_path_factory.mktemp("acls"),
        port=port,
        controller_port=controller,
        sasl_port=sasl,
        sasl_users={u: SecretStr(p) for u, p in PASSWORDS.items()},
        service_users={"detector": "detector", "vlm-fast": "vlm-fast"},
        partitions=1,
        heap="512m",
    )
    assert s.broker_user is not None and s.broker_user[0] == "admin"
    control.up(s)
    try:
        yield s
    finally:
        control.down(s, wipe=True)


def as_user(stack: StackSettings, user: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=stack.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=user,
        sasl_password=SecretStr(PASSWORDS[user]),
    )


def _deliver(kafka: KafkaSettings, topic: str) -> KafkaError | None:
    """Produce one record as the services do (idempotent); the delivery report's error, None if written."""
    reports: list[KafkaError | None] = []
    producer = idempotent_producer(kafka, **{"message.timeout.ms": 10_000})
    producer.produce(topic, b"acl-test", key=b"cam-1", on_delivery=lambda err, _msg: reports.append(err))
    producer.flush(15)
    assert len(reports) == 1
    return reports[0]


def _code(err: KafkaError | None) -> int | None:
    return None if err is None else err.code()


def test_the_detector_writes_detections_but_not_thresholds(stack: StackSettings) -> None:
    detector = as_user(stack, "detector")
    assert _deliver(detector, DETECTIONS) is None
    assert _code(_deliver(detector, THRESHOLDS)) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_tier_cannot_write_images(stack: StackSettings) -> None:
    fast = as_user(stack, "vlm-fast")
    assert _code(_deliver(fast, IMAGES)) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert _deliver(fast, "escalations.power.v1") is None
    assert _deliver(stack.client_settings(), IMAGES) is None  # the broker user is a super user


def test_the_detectors_read_process_write_transaction_commits(stack: StackSettings) -> None:
    """As the detector: consume images.v1 in its group, write detections.v1 and the offsets in one
    transaction under its transactional id (TxnOffsetCommit needs the group's Read too)."""
    admin = stack.client_settings()
    image, detection = uuid.uuid4().bytes, uuid.uuid4().bytes
    assert _deliver_value(admin, IMAGES, image) is None
    kafka = as_user(stack, "detector")
    group = "roadwatch-detector"
    producer = transactional_producer(kafka, member_id(group, "0"))
    reader = consumer(kafka, group, **{"group.instance.id": member_id(group, "0")})
    reader.subscribe([IMAGES])
    try:
        seen = _poll_for(reader, image)
        producer.begin_transaction()
        producer.produce(DETECTIONS, detection, key=b"cam-1")
        producer.send_offsets_to_transaction(
            [TopicPartition(IMAGES, seen.partition(), seen.offset() + 1)],
            reader.consumer_group_metadata(),
            30,
        )
        producer.commit_transaction(30)
    finally:
        reader.close()
    committed = Consumer(
        admin.client_config(
            **{"group.id": group, "isolation.level": "read_committed", "enable.auto.commit": False}
        )
    )
    try:  # assign(), no join: reads what the transaction wrote and the offset it committed for the group
        committed.assign([TopicPartition(DETECTIONS, 0, OFFSET_BEGINNING)])
        _poll_for(committed, detection)
        offsets = committed.committed([TopicPartition(IMAGES, seen.partition())], timeout=10)
    finally:
        committed.close()
    assert offsets[0].offset == seen.offset() + 1


def test_another_services_transactional_id_is_refused(stack: StackSettings) -> None:
    with pytest.raises(KafkaException) as caught:
        transactional_producer(as_user(stack, "detector"), "roadwatch-vlm-fast-0")
    assert caught.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def test_the_thresholds_reader_writes_its_dead_letters_and_commits_past_them(
    stack: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    from roadwatch.vision.scoring import Band, BandBook
    from services.detector.thresholds import ThresholdsReader

    caplog.set_level(logging.WARNING)
    reader = ThresholdsReader.start(as_user(stack, "detector"), THRESHOLDS, BandBook(Band(0.2, 0.8)))
    try:
        admin = stack.client_settings()
        assert _deliver_value(admin, THRESHOLDS, None) is None  # a tombstone: applied
        assert _deliver_value(admin, THRESHOLDS, b"not json") is None  # a dead letter, as the detector
        applied = 0
        for _ in range(40):
            applied += reader.poll(timeout_s=0.25)
            if applied and _end(admin, dlq(THRESHOLDS)) > 0:
                break
        assert applied == 1 and _end(admin, dlq(THRESHOLDS)) > 0
    finally:
        reader.close()
    assert "authoriz" not in caplog.text.lower()


def test_only_the_broker_user_creates_topics(stack: StackSettings) -> None:
    name = f"acl-{uuid.uuid4().hex[:8]}"
    detector = AdminClient(as_user(stack, "detector").client_config())
    with pytest.raises(KafkaException) as caught:
        detector.create_topics([NewTopic(name, 1, 1)])[name].result(15)
    assert caught.value.args[0].code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    )
    admin = AdminClient(stack.client_settings().client_config())
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(15)
    assert name in admin.list_topics(timeout=10).topics


def test_applying_the_plan_again_creates_nothing(stack: StackSettings) -> None:
    assert acls.apply(stack.client_settings().client_config(), acls.plan(stack.service_users)) == []


CONTROLLER_ACL = """
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.resource.*;

public class ControllerAcl {  // args: controller [user password]; grants User:intruder ALL on every topic
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.controllers", args[0]);
        p.put("request.timeout.ms", "3000");
        p.put("default.api.timeout.ms", "4000");
        if (args.length > 1) {
            p.put("security.protocol", "SASL_PLAINTEXT");
            p.put("sasl.mechanism", "PLAIN");
            p.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required"
                + " username=\\"" + args[1] + "\\" password=\\"" + args[2] + "\\";");
        }
        try (Admin admin = Admin.create(p)) {
            ResourcePattern everyTopic = new ResourcePattern(ResourceType.TOPIC, "*", PatternType.LITERAL);
            AccessControlEntry all =
                new AccessControlEntry("User:intruder", "*", AclOperation.ALL, AclPermissionType.ALLOW);
            admin.createAcls(List.of(new AclBinding(everyTopic, all))).all().get();
            System.out.println("CREATED");
        } catch (Exception e) {
            System.out.println("REFUSED " + e);
        }
    }
}
"""


def test_the_controller_takes_acls_from_the_broker_user_only(stack: StackSettings, tmp_path: Path) -> None:
    """The controller listener (KIP-919: admin clients may talk to it directly) is SASL for the broker user
    alone: no unauthenticated local process or service principal can grant itself anything there."""
    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("needs a JDK (javac) to build a Java admin client: librdkafka cannot reach a controller")
    (tmp_path / "ControllerAcl.java").write_text(CONTROLLER_ACL)
    cp = f"{kafka_classpath(stack.cache_dir, stack.kafka_version)}/*"
    subprocess.run([javac, "-cp", cp, "ControllerAcl.java"], cwd=tmp_path, check=True, capture_output=True)
    controller = f"{stack.host}:{stack.controller_port}"

    def grant(*login: str) -> str:
        run = [shutil.which("java") or "java", "-cp", f"{cp}:{tmp_path}", "ControllerAcl", controller, *login]
        out = subprocess.run(run, capture_output=True, text=True, timeout=60, check=False).stdout
        return next(line for line in out.splitlines() if line.startswith(("CREATED", "REFUSED")))

    assert grant().startswith("REFUSED")  # no credentials
    assert "Authentication failed" in grant("detector", PASSWORDS["detector"])  # not a controller user
    intruder = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        "User:intruder",
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = AdminClient(stack.client_settings().client_config())
    assert admin.describe_acls(intruder).result(10) == []


def _deliver_value(kafka: KafkaSettings, topic: str, value: bytes | None) -> KafkaError | None:
    reports: list[KafkaError | None] = []
    producer = Producer(kafka.client_config(**{"message.timeout.ms": 10_000}))
    producer.produce(topic, value, key=b"cam-1", on_delivery=lambda err, _msg: reports.append(err))
    producer.flush(15)
    return reports[0] if reports else KafkaError(KafkaError._MSG_TIMED_OUT)


def _poll_for(c: Consumer, value: bytes, attempts: int = 60) -> Message:
    for _ in range(attempts):
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None and msg.value() == value:
            return msg
    raise AssertionError(f"{value!r} not read")


def _end(kafka: KafkaSettings, topic: str) -> int:
    c = Consumer(kafka.client_config(**{"group.id": "acl-check", "enable.auto.commit": False}))
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        c.close()
