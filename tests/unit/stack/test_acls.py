"""The least-privilege ACL plan, as data: the exact bindings of the detector, a tier and the producer, what
none of them may do, the names it grants matching the services' own defaults; the settings that ask for it and
the broker configuration that enforces it."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from pydantic import SecretStr, ValidationError

from roadwatch.kafka.topics import CONSUMED, all_topics, dlq
from roadwatch.stack.acls import NEEDS, SERVICES, plan
from roadwatch.stack.broker import AUTHORIZER, server_properties
from roadwatch.stack.settings import StackSettings

R, W, D, IW = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.IDEMPOTENT_WRITE
TOPIC, GROUP, TXN, CLUSTER = (
    ResourceType.TOPIC,
    ResourceType.GROUP,
    ResourceType.TRANSACTIONAL_ID,
    ResourceType.BROKER,
)


def allow(user: str, kind: ResourceType, name: str, op: AclOperation, pattern: str = "LITERAL") -> AclBinding:
    return AclBinding(
        kind, name, ResourcePatternType[pattern], f"User:{user}", "*", op, AclPermissionType.ALLOW
    )


def topics(user: str, reads: list[str], writes: list[str]) -> set[AclBinding]:
    return (
        {allow(user, TOPIC, t, D) for t in reads + writes}
        | {allow(user, TOPIC, t, R) for t in reads}
        | {allow(user, TOPIC, t, W) for t in writes}
    )


def test_the_detector_gets_exactly_what_it_does() -> None:
    expected = topics(
        "det",
        reads=["images.v1", "thresholds.v1"],
        writes=["detections.v1", "verdicts.v1", "escalations.fast.v1", "images.v1.dlq", "thresholds.v1.dlq"],
    ) | {
        allow("det", GROUP, "roadwatch-detector", R),
        allow("det", GROUP, "roadwatch-thresholds-reader", R),  # commits what it dead-lettered
        allow("det", TXN, "roadwatch-detector-", W, "PREFIXED"),
        allow("det", TXN, "roadwatch-detector-", D, "PREFIXED"),
        allow("det", CLUSTER, "kafka-cluster", IW),
    }
    got = plan({"detector": "det"})
    assert len(got) == len(set(got)) and set(got) == expected
    assert allow("det", TOPIC, "detections.v1", W) in got
    assert allow("det", TOPIC, "thresholds.v1", W) not in got  # it reads thresholds, Flink writes them
    assert not any(b.name == "thresholds.v1" and b.operation != R and b.operation != D for b in got)
    assert all(b.permission_type == AclPermissionType.ALLOW and b.host == "*" for b in got)


def test_a_tier_reads_its_escalations_and_writes_verdicts_and_the_other_tiers_never_images() -> None:
    got = set(plan({"vlm-fast": "fast"}))
    expected = topics(
        "fast",
        reads=["escalations.fast.v1"],
        writes=["verdicts.v1", "escalations.power.v1", "escalations.precision.v1", "escalations.fast.v1.dlq"],
    ) | {
        allow("fast", GROUP, "roadwatch-vlm-fast", R),
        allow("fast", TXN, "roadwatch-vlm-fast-", W, "PREFIXED"),
        allow("fast", TXN, "roadwatch-vlm-fast-", D, "PREFIXED"),
        allow("fast", CLUSTER, "kafka-cluster", IW),
    }
    assert got == expected
    assert not any(b.name == "images.v1" for b in got)
    power = set(plan({"vlm-power": "power"}))
    assert allow("power", TOPIC, "escalations.fast.v1", W) in power  # fail-over down the ladder
    assert allow("power", TOPIC, "escalations.fast.v1", R) not in power


def test_the_producer_writes_images_only_and_the_sink_writes_nothing() -> None:
    assert set(plan({"producer": "cam"})) == topics("cam", [], ["images.v1"]) | {
        allow("cam", CLUSTER, "kafka-cluster", IW)
    }
    sink = plan({"sink": "sink"})
    assert {b.operation for b in sink} == {R, D}
    assert {b.name for b in sink if b.restype == TOPIC and b.operation == R} == {
        "detections.v1",
        "verdicts.v1",
        "source-state.v1",
        "labels.v1",
        "detections.shadow.v1",
        "opinions.shadow.v1",
        *(dlq(t) for t in CONSUMED),
    }
    assert set(plan({"labeller": "ann"})) == topics("ann", [], ["labels.v1"]) | {
        allow("ann", CLUSTER, "kafka-cluster", IW)
    }


def test_flink_writes_thresholds_under_its_transactional_prefix() -> None:
    got = plan({"flink": "flink"})
    assert allow("flink", TOPIC, "thresholds.v1", W) in got
    assert allow("flink", TXN, "roadwatch-flink-tx", W, "PREFIXED") in got
    assert allow("flink", GROUP, "roadwatch-flink", R) in got


def test_only_topics_that_exist_and_only_the_services_default_groups() -> None:
    from services.detector.settings import DetectorSettings
    from services.detector.thresholds import GROUP as THRESHOLDS_GROUP
    from services.sink.settings import SinkSettings
    from services.vlm_tier.settings import tier_settings

    existing = {t.name for t in all_topics()}
    assert {b.name for b in plan({s: s for s in SERVICES}) if b.restype == TOPIC} <= existing
    assert NEEDS["detector"].groups == (DetectorSettings.model_fields["group_id"].default, THRESHOLDS_GROUP)
    assert NEEDS["sink"].groups == (SinkSettings.model_fields["group_id"].default,)
    for tier in ("fast", "power", "precision"):
        assert NEEDS[f"vlm-{tier}"].groups == (tier_settings(tier).group,)


def test_shared_users_get_the_union_once_and_unknown_services_are_refused() -> None:
    both = plan({"detector": "u", "producer": "u"})
    assert len(both) == len(set(both))
    assert set(both) == set(plan({"detector": "u"})) | set(plan({"producer": "u"}))
    assert plan({}) == []
    with pytest.raises(ValueError, match="no ACL plan"):
        plan({"detectr": "u"})


USERS = {"admin": SecretStr("pw-a"), "det": SecretStr("pw-d"), "fast": SecretStr("pw-f")}


def props(**settings: Any) -> dict[str, str]:
    text = server_properties(StackSettings(port=1, controller_port=2, **settings))
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_with_sasl_only_the_broker_user_is_super_and_the_controller_listener_authenticates() -> None:
    p = props(sasl_port=3, sasl_users=USERS)
    assert p["authorizer.class.name"] == AUTHORIZER
    assert p["super.users"] == "User:admin"
    assert p["allow.everyone.if.no.acl.found"] == "false"
    assert p["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert p["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert p["listener.name.controller.plain.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="pw-a" user_admin="pw-a";'  # the broker user only
    )


def test_plaintext_beside_sasl_stays_open_and_without_sasl_nothing_is_authorized() -> None:
    p = props(sasl_port=3, sasl_users=USERS, plaintext_with_sasl=True)
    assert p["super.users"] == "User:admin;User:ANONYMOUS"
    assert p["listener.security.protocol.map"].endswith("CONTROLLER:PLAINTEXT")
    assert not any(k.startswith("listener.name.controller") for k in p)
    assert not any(k.startswith(("authorizer", "super.users", "allow.everyone")) for k in props())


def test_service_users_are_validated() -> None:
    ok = StackSettings(sasl_port=3, sasl_users=USERS, service_users={"detector": "det", "vlm-fast": "fast"})
    assert ok.service_users == {"detector": "det", "vlm-fast": "fast"}
    assert StackSettings().service_users == {}
    bad: list[dict[str, Any]] = [
        {"service_users": {"detector": "det"}},  # no SASL at all
        {
            "sasl_port": 3,
            "sasl_users": USERS,
            "plaintext_with_sasl": True,
            "service_users": {"detector": "det"},
        },
        {"sasl_port": 3, "sasl_users": USERS, "service_users": {"detectr": "det"}},
        {"sasl_port": 3, "sasl_users": USERS, "service_users": {"detector": "nobody"}},
        {"sasl_port": 3, "sasl_users": USERS, "service_users": {"detector": "admin"}},  # the super user
    ]
    for settings in bad:
        with pytest.raises(ValidationError):
            StackSettings(**settings)


def test_shadows_get_their_prefixed_groups_and_own_topics_only() -> None:
    from roadwatch.kafka.clients import member_id
    from services.detector.settings import DetectorSettings
    from services.vlm_tier.settings import tier_settings

    detector = DetectorSettings(shadow="coco")
    granted = NEEDS["detector-shadow"]
    assert any(detector.group.startswith(p) for p in granted.group_prefixes)
    assert granted.transactional_prefix is not None
    assert member_id(detector.group, detector.instance_id).startswith(granted.transactional_prefix)
    assert granted.writes == (detector.shadow_topic,)  # never verdicts, escalations or detections
    tier = tier_settings("power").model_copy(update={"shadow": "big"})
    shadow = NEEDS["vlm-power-shadow"]
    assert any(tier.group.startswith(p) for p in shadow.group_prefixes)
    assert shadow.writes == (tier.shadow_topic,)
    got = plan({"detector-shadow": "d"})
    assert allow("d", GROUP, "roadwatch-detector-shadow-", R, "PREFIXED") in got
    assert allow("d", GROUP, "roadwatch-detector", R) not in got  # not production's group
