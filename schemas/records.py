"""Typed records for every topic. Each carries `event_id`, `source_id`, `captured_at` and `schema_version`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Literal[1] = 1
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1  # what the tables' int and long columns hold
SOURCE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # a camera / source id: also every record's key
VARIANT = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")  # a shadow model's name (no `:`: it joins dedup keys)
VlmTier = Literal["fast", "power", "precision"]
VLM_TIERS: tuple[VlmTier, ...] = get_args(VlmTier)  # the ladder, bottom to top
Tier = Literal["detector", VlmTier]
OpinionOutcome = Literal["answered", "unparseable", "failed"]
Decision = Literal["roadwork", "clear", "escalate"]
LabelOrigin = Literal["human", "dataset", "import"]  # a person, a labelled dataset, another system's labels
BandOrigin = Literal["adaptive", "applied"]  # moved by the Flink job, or applied by a person (`tune --apply`)
BandScope = Literal["source", "default"]  # one source's band, or the band of every source without one
DEFAULT_BAND_KEY = "_default"  # the key (and source_id) of the `default` band's record on `thresholds.v1`


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every model here. Unknown fields are rejected so producers cannot drift silently; non-finite
    floats are rejected because JSON has no spelling for them: encode writes inf and nan as null, which
    decode refuses, so a record accepted with one (`Infinity`, `1e999`) would turn into poison downstream."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Record(Contract):
    """Fields every record shares."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(min_length=1, max_length=128)
    source_id: str = Field(min_length=1, max_length=128, pattern=SOURCE_ID.pattern)
    captured_at: AwareDatetime


class ImageEvent(Record):
    """An image to analyse, by reference (`image_uri`) or inline (`image_b64`, small images only)."""

    image_uri: str | None = Field(default=None, max_length=4096)
    image_b64: str | None = None
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    size_bytes: int = Field(gt=0)
    produced_at: AwareDatetime
    attributes: dict[str, str] = Field(default_factory=dict)


class ModelRef(Contract):
    """Which model produced something: name, version and the sha256 of its weights."""

    name: str
    version: str
    weights_sha256: str


class Detection(Contract):
    """One box, normalised to [0, 1] image coordinates (x1, y1 top-left; x2, y2 bottom-right)."""

    label: str
    class_id: int = Field(ge=0, le=INT32_MAX)
    confidence: float = Field(ge=0.0, le=1.0)
    x1: float = Field(ge=0.0, le=1.0)
    y1: float = Field(ge=0.0, le=1.0)
    x2: float = Field(ge=0.0, le=1.0)
    y2: float = Field(ge=0.0, le=1.0)
    model: str


class DetectionResult(Record):
    """The detector's output for one image: boxes, roadwork score and the decision it took."""

    image_uri: str | None = None
    image_sha256: str
    detections: list[Detection]
    roadwork_score: float = Field(ge=0.0, le=1.0)
    decision: Decision
    band_low: float = Field(ge=0.0, le=1.0)
    band_high: float = Field(ge=0.0, le=1.0)
    models: list[ModelRef]
    decode_ms: float = Field(ge=0.0)
    inference_ms: float = Field(ge=0.0)
    detected_at: AwareDatetime
    variant: str | None = Field(
        default=None, pattern=VARIANT.pattern, description="the shadow model that made it; null: production"
    )


class TierOpinion(Contract):
    """What one tier said (or failed to say) about an image."""

    tier: Tier
    backend: str
    model: str
    prompt_version: str
    outcome: OpinionOutcome
    roadwork: bool | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)
    latency_ms: float = Field(ge=0.0)
    error: str | None = None


class EscalationRequest(Record):
    """Work for a VLM tier: the image reference plus every opinion gathered so far."""

    image_uri: str | None = None
    image_b64: str | None = None
    image_sha256: str
    target_tier: VlmTier
    detector_score: float = Field(ge=0.0, le=1.0)
    detections: list[Detection]
    opinions: list[TierOpinion] = Field(default_factory=list)
    degraded_reasons: list[str] = Field(default_factory=list)
    requested_at: AwareDatetime


class Verdict(Record):
    """The final decision for one image and how it was reached."""

    roadwork: bool
    confidence: float = Field(ge=0.0, le=1.0)
    decided_by: Tier
    tier_path: list[Tier]
    opinions: list[TierOpinion] = Field(default_factory=list)
    detector_score: float = Field(ge=0.0, le=1.0)
    degraded: bool = False
    degraded_reason: str | None = None
    decided_at: AwareDatetime


class ShadowOpinion(Record):
    """What a shadow variant of a tier said about an escalation it was not asked to route: written beside
    production, never a verdict nor an escalation."""

    variant: str = Field(pattern=VARIANT.pattern)
    image_sha256: str
    opinion: TierOpinion
    opined_at: AwareDatetime


class SourceState(Record):
    """Per-source rolling state from the Flink job; `event_id` is the last event folded in."""

    events: int = Field(ge=0, le=INT64_MAX)
    ewma_confidence: float = Field(ge=0.0, le=1.0)
    escalation_rate: float = Field(ge=0.0, le=1.0)
    roadwork_rate: float = Field(ge=0.0, le=1.0)
    disagreement_rate: float = Field(ge=0.0, le=1.0)
    degraded_count: int = Field(ge=0, le=INT64_MAX)
    tier_counts: dict[str, int] = Field(default_factory=dict)
    roadwork_active: bool
    alert: Literal["roadwork_started", "roadwork_cleared"] | None = None
    updated_at: AwareDatetime


class BandProvenance(Contract):
    """Where an applied band comes from: what chose it, on what, and the figures it predicted."""

    chosen_by: str = Field(min_length=1, max_length=256, description="e.g. `roadwatch tune`")
    applied_by: str = Field(min_length=1, max_length=256)
    target: dict[str, float] = Field(default_factory=dict, description="e.g. max_escalation: 0.1")
    labelled_events: int = Field(ge=0, le=INT64_MAX)
    predicted: dict[str, float] = Field(default_factory=dict, description="escalation_rate, mcc, ...")
    interval_95: dict[str, list[float]] = Field(default_factory=dict, description="their bootstrap intervals")


class Thresholds(Record):
    """Per-source escalation band (compacted topic, key = source_id). An `applied` band is the Flink job's
    new starting point; its adaptive moves stay within `drift` of it (below `low - drift` or above
    `high + drift` never, nor narrower than `low + drift` .. `high - drift`). A `default` band (key and
    source_id `DEFAULT_BAND_KEY`) holds for every source without a band of its own."""

    low: float = Field(ge=0.0, le=1.0)
    high: float = Field(ge=0.0, le=1.0)
    evidence: int = Field(ge=0)
    updated_at: AwareDatetime
    origin: BandOrigin = "adaptive"
    scope: BandScope = "source"
    drift: float | None = Field(default=None, ge=0.0, le=1.0, description="applied: how far it may move")
    provenance: BandProvenance | None = None

    @model_validator(mode="after")
    def _default_key(self) -> Thresholds:
        if (self.scope == "default") != (self.source_id == DEFAULT_BAND_KEY):
            raise ValueError(f"a default band, and only it, has source_id {DEFAULT_BAND_KEY!r}")
        return self


class Label(Record):
    """What an image truly shows, by whom and from where. `event_id` is the event labelled; the label holds
    for its image (`image_sha256`): the newest label of an image supersedes the earlier ones, which stay."""

    label_id: str = Field(min_length=1, max_length=128)
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    roadwork: bool
    origin: LabelOrigin
    labelled_by: str = Field(min_length=1, max_length=256)
    reference: str | None = Field(default=None, max_length=4096, description="e.g. the dataset file")
    labelled_at: AwareDatetime


class DeadLetter(Record):
    """A record a service could not process, with the original bytes and where it came from."""

    service: str
    reason: str
    detail: str
    source_topic: str
    partition: int = Field(ge=0, le=INT32_MAX)
    offset: int = Field(ge=0, le=INT64_MAX)
    original_key_b64: str | None = None
    original_value_b64: str
    failed_at: AwareDatetime
    truncated: bool = False  # the original key or value was cut to fit the dead-letter topic
    original_size: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="bytes of the original value"
    )
    original_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


RECORD_TYPES: dict[str, type[Record]] = {
    "ImageEvent": ImageEvent,
    "DetectionResult": DetectionResult,
    "EscalationRequest": EscalationRequest,
    "Verdict": Verdict,
    "ShadowOpinion": ShadowOpinion,
    "SourceState": SourceState,
    "Thresholds": Thresholds,
    "Label": Label,
    "DeadLetter": DeadLetter,
}
