"""The shared contract: one typed model per record on every topic, and the Iceberg table schemas.

Evolution rule: within a version (`*.v1`, `schema_version == 1`) changes are additive only: new optional
fields with defaults. Renaming, removing or retyping a field needs a new topic version (`*.v2`).
Nothing here imports a model runtime or a Kafka client.
"""

from schemas.records import (
    DEFAULT_BAND_KEY,
    RECORD_TYPES,
    BandProvenance,
    DeadLetter,
    Detection,
    DetectionResult,
    EscalationRequest,
    ImageEvent,
    Label,
    ModelRef,
    ShadowOpinion,
    SourceState,
    Thresholds,
    TierOpinion,
    Verdict,
)

__all__ = [
    "DEFAULT_BAND_KEY",
    "RECORD_TYPES",
    "BandProvenance",
    "DeadLetter",
    "Detection",
    "DetectionResult",
    "EscalationRequest",
    "ImageEvent",
    "Label",
    "ModelRef",
    "ShadowOpinion",
    "SourceState",
    "Thresholds",
    "TierOpinion",
    "Verdict",
]
