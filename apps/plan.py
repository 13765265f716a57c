"""Which local processes make up the embedded stack, with their readiness ports, and their supervisor."""

from __future__ import annotations

import json
from pathlib import Path

from apps.console.settings import ConsoleSettings
from roadwatch.settings import DEFAULT_HOME, METRICS_PORTS, ROOT
from roadwatch.supervisor import ServiceSpec, Supervisor
from schemas.records import VLM_TIERS

FLINK_PYTHON = ROOT / ".venv-flink" / "bin" / "python"


def local_services(models_dir: Path, images: Path, flink_python: Path | None) -> list[ServiceSpec]:
    """Detector, the three tiers on the `local` backend, the sink, the web console, and the Flink job when
    its env exists. Each listens on its own default metrics port (`roadwatch.settings.METRICS_PORTS`; the
    console on its page port); the detector, the tiers and the console read image files only under
    `images` (their allow-lists deny everything else)."""
    roots = json.dumps([str(images.resolve())])
    specs = [
        ServiceSpec(
            "detector",
            ["-m", "services.detector"],
            {
                "ROADWATCH_DETECTOR_MODELS_DIR": str(models_dir),
                "ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS": roots,
            },
            METRICS_PORTS["detector"],
        ),
        *[
            ServiceSpec(
                f"vlm-{tier}",
                ["-m", "services.vlm_tier", "--tier", tier],
                {"ROADWATCH_VLM_MODELS_DIR": str(models_dir), "ROADWATCH_VLM_ALLOWED_FILE_ROOTS": roots},
                METRICS_PORTS[f"vlm-{tier}"],
            )
            for tier in VLM_TIERS
        ],
        ServiceSpec("sink", ["-m", "services.sink"], {}, METRICS_PORTS["sink"]),
        ServiceSpec(
            "console",
            ["-m", "apps.cli", "ui"],
            {"ROADWATCH_CONSOLE_ALLOWED_FILE_ROOTS": roots},
            ConsoleSettings.model_fields["port"].default,
        ),
    ]
    if flink_python is not None and flink_python.exists():
        specs.append(
            ServiceSpec(
                "flink", ["-m", "flink_jobs.confidence_state"], {}, METRICS_PORTS["flink"], str(flink_python)
            )
        )
    return specs


def supervisor(models: Path, images: Path) -> Supervisor:
    """The embedded stack's services, logging to `~/.roadwatch/logs/<name>.log`."""
    return Supervisor(local_services(models.resolve(), images, FLINK_PYTHON), DEFAULT_HOME / "logs", ROOT)
