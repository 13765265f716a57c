"""Which local processes make up the embedded stack, with their readiness ports."""

from __future__ import annotations

from pathlib import Path

from roadwatch.supervisor import ServiceSpec

PORTS = {"detector": 9101, "vlm-fast": 9102, "vlm-power": 9112, "vlm-precision": 9122, "sink": 9103}


def local_services(models_dir: Path, flink_python: Path | None) -> list[ServiceSpec]:
    """Detector, the three tiers on the `local` backend, the sink, and the Flink job when its env exists."""
    specs = [
        ServiceSpec(
            "detector",
            ["-m", "services.detector"],
            {
                "ROADWATCH_DETECTOR_MODELS_DIR": str(models_dir),
                "ROADWATCH_DETECTOR_METRICS_PORT": str(PORTS["detector"]),
            },
            PORTS["detector"],
        ),
        *[
            ServiceSpec(
                f"vlm-{tier}",
                ["-m", "services.vlm_tier", "--tier", tier],
                {
                    "ROADWATCH_VLM_MODELS_DIR": str(models_dir),
                    f"ROADWATCH_VLM_{tier.upper()}_METRICS_PORT": str(PORTS[f"vlm-{tier}"]),
                },
                PORTS[f"vlm-{tier}"],
            )
            for tier in ("fast", "power", "precision")
        ],
        ServiceSpec(
            "sink",
            ["-m", "services.sink"],
            {"ROADWATCH_SINK_METRICS_PORT": str(PORTS["sink"])},
            PORTS["sink"],
        ),
    ]
    if flink_python is not None and flink_python.exists():
        specs.append(ServiceSpec("flink", ["-m", "flink_jobs.confidence_state"], {}, None, str(flink_python)))
    return specs
