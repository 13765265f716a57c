"""Least-privilege Kafka ACLs for the pipeline's services, one SASL principal each.

`NEEDS` is what each service does on Kafka, as data: the topics it reads and writes, its consumer groups, the
prefix of its transactional ids; `plan` turns it into ALLOW bindings for the principals given (service →
user name), `apply` creates those the cluster lacks. Anything not granted is refused: the broker runs the
StandardAuthorizer with `allow.everyone.if.no.acl.found=false` and only its own user as super user.

Per service, the plan grants:

- Describe on every topic it reads or writes, Read on those it reads, Write on those it writes;
- Read on its consumer groups (Read implies Describe: joining, committing, fetching committed offsets),
  and on the prefixed ones (a shadow's group is `<service group>-shadow-<variant>`);
- Write and Describe on its transactional ids, as a prefixed pattern (`roadwatch-detector-` covers
  `roadwatch-detector-<instance>`);
- IdempotentWrite on the cluster when it produces at all (every producer here is idempotent).

The names are the services' defaults (`group_id`, topic names without a prefix); a service configured with
another group or topic prefix needs bindings of its own.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from roadwatch.errors import StackError
from roadwatch.kafka.topics import (
    CONSUMED,
    DETECTIONS,
    IMAGES,
    LABELS,
    SHADOW_DETECTIONS,
    SHADOW_OPINIONS,
    SOURCE_STATE,
    THRESHOLDS,
    VERDICTS,
    dlq,
    escalations,
)
from schemas.records import VLM_TIERS

log = logging.getLogger(__name__)

CLUSTER = "kafka-cluster"  # the one name of Kafka's cluster resource (`ResourceType.BROKER` in librdkafka)
ANY_HOST = "*"


@dataclass(frozen=True)
class Needs:
    """What one service does on Kafka."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    transactional_prefix: str | None = None

    @property
    def produces(self) -> bool:
        return bool(self.writes)


def _tier(tier: str) -> Needs:
    """A VLM tier: its escalations in; verdicts, escalations up or down the ladder, its dead letters out."""
    own = escalations(tier)
    others = tuple(escalations(t) for t in VLM_TIERS if t != tier)
    return Needs(
        reads=(own,),
        writes=(VERDICTS, *others, dlq(own)),
        groups=(f"roadwatch-vlm-{tier}",),
        transactional_prefix=f"roadwatch-vlm-{tier}-",
    )


def _tier_shadow(tier: str) -> Needs:
    """A shadow of a tier (`run vlm --tier T --shadow NAME`): the tier's escalations in, opinions out."""
    return Needs(
        reads=(escalations(tier),),
        writes=(SHADOW_OPINIONS,),
        group_prefixes=(f"roadwatch-vlm-{tier}-shadow-",),
        transactional_prefix=f"roadwatch-vlm-{tier}-shadow-",
    )


NEEDS: dict[str, Needs] = {
    "detector": Needs(
        reads=(IMAGES, THRESHOLDS),
        writes=(DETECTIONS, VERDICTS, escalations("fast"), dlq(IMAGES), dlq(THRESHOLDS)),
        groups=("roadwatch-detector", "roadwatch-thresholds-reader"),  # the latter only commits
        transactional_prefix="roadwatch-detector-",
    ),
    # a shadow detector (`run detector --shadow NAME`): images in, variant-tagged detections out
    "detector-shadow": Needs(
        reads=(IMAGES,),
        writes=(SHADOW_DETECTIONS,),
        group_prefixes=("roadwatch-detector-shadow-",),
        transactional_prefix="roadwatch-detector-shadow-",
    ),
    **{f"vlm-{tier}": _tier(tier) for tier in VLM_TIERS},
    **{f"vlm-{tier}-shadow": _tier_shadow(tier) for tier in VLM_TIERS},
    "sink": Needs(
        reads=(
            DETECTIONS,
            VERDICTS,
            SOURCE_STATE,
            LABELS,
            SHADOW_DETECTIONS,
            SHADOW_OPINIONS,
            *(dlq(t) for t in CONSUMED),
        ),
        groups=("roadwatch-sink",),
    ),
    "flink": Needs(
        reads=(DETECTIONS, VERDICTS, THRESHOLDS),  # THRESHOLDS: the bands `tune --apply` publishes
        writes=(SOURCE_STATE, THRESHOLDS, dlq(DETECTIONS), dlq(VERDICTS), dlq(THRESHOLDS)),
        groups=("roadwatch-flink",),
        transactional_prefix="roadwatch-flink-tx",  # Flink's KafkaSink appends -<subtask>-<checkpoint>
    ),
    "producer": Needs(writes=(IMAGES,)),
    # `roadwatch label`, `labels import` and the console's correct/wrong buttons
    "labeller": Needs(writes=(LABELS,)),
}
SERVICES = tuple(NEEDS)


def _allow(
    principal: str, kind: ResourceType, name: str, operation: AclOperation, *, prefixed: bool = False
) -> AclBinding:
    pattern = ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL
    return AclBinding(kind, name, pattern, principal, ANY_HOST, operation, AclPermissionType.ALLOW)


def bindings_for(user: str, needs: Needs) -> list[AclBinding]:
    """The ALLOW bindings that let `User:<user>` do what `needs` says, and nothing else."""
    principal = f"User:{user}"
    out: list[AclBinding] = []
    for topic in dict.fromkeys((*needs.reads, *needs.writes)):
        out.append(_allow(principal, ResourceType.TOPIC, topic, AclOperation.DESCRIBE))
    out.extend(_allow(principal, ResourceType.TOPIC, t, AclOperation.READ) for t in needs.reads)
    out.extend(_allow(principal, ResourceType.TOPIC, t, AclOperation.WRITE) for t in needs.writes)
    out.extend(_allow(principal, ResourceType.GROUP, g, AclOperation.READ) for g in needs.groups)
    out.extend(
        _allow(principal, ResourceType.GROUP, g, AclOperation.READ, prefixed=True)
        for g in needs.group_prefixes
    )
    if needs.transactional_prefix is not None:
        for op in (AclOperation.WRITE, AclOperation.DESCRIBE):
            out.append(
                _allow(
                    principal, ResourceType.TRANSACTIONAL_ID, needs.transactional_prefix, op, prefixed=True
                )
            )
    if needs.produces:
        out.append(_allow(principal, ResourceType.BROKER, CLUSTER, AclOperation.IDEMPOTENT_WRITE))
    return out


def plan(principals: dict[str, str]) -> list[AclBinding]:
    """The bindings for `principals` (service → user name), sorted, without duplicates (two services may
    share a user: it gets both sets). ValueError for a service the plan does not know."""
    unknown = sorted(set(principals) - set(NEEDS))
    if unknown:
        raise ValueError(f"no ACL plan for {unknown}; services are {list(SERVICES)}")
    out: set[AclBinding] = set()
    for service, user in principals.items():
        out.update(bindings_for(user, NEEDS[service]))
    return sorted(out)


def _existing(admin: AdminClient, timeout_s: float) -> set[AclBinding]:
    anything: Any = None  # a filter's None matches any name, principal, host (typed as str upstream)
    every = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    return set(admin.describe_acls(every, request_timeout=timeout_s).result(timeout=timeout_s))


def apply(
    admin_conf: dict[str, Any], bindings: list[AclBinding], timeout_s: float = 30.0
) -> list[AclBinding]:
    """Create the `bindings` the cluster does not have yet and wait until the broker lists them all (ACLs
    reach its authorizer through the metadata log); returns those created. Bindings already there, the
    plan's or anyone's, are left as they are: nothing is deleted.

    Raises:
        StackError: the cluster refused a binding, or did not list them all within `timeout_s`.
    """
    admin = AdminClient(admin_conf)
    try:
        missing = sorted(set(bindings) - _existing(admin, timeout_s))
        if missing:
            futures = admin.create_acls(missing, request_timeout=timeout_s)
            failed: list[str] = []
            for binding, fut in futures.items():
                try:
                    fut.result(timeout=timeout_s)
                except KafkaException as exc:
                    failed.append(f"{binding}: {exc}")
            if failed:
                raise StackError(f"cannot create {len(failed)} ACLs: {'; '.join(failed)}")
        deadline = time.monotonic() + timeout_s
        while lacking := set(bindings) - _existing(admin, timeout_s):
            if time.monotonic() >= deadline:
                raise StackError(f"{len(lacking)} ACLs not listed {timeout_s}s after their creation")
            time.sleep(0.1)
    except KafkaException as exc:
        raise StackError(f"cannot list or create ACLs: {exc}") from exc
    log.info("ACLs: %d created, %d already there", len(missing), len(set(bindings)) - len(missing))
    return missing
