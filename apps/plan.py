"""Which local processes run the pipeline on the profile's stack, with their readiness ports, and their
supervisor. On the embedded profile the Flink job is one of them (a mini-cluster in `.venv-flink`); on the
cluster profile it runs in the stack's Flink session cluster instead, and the detector and each tier may run
as several instances of one consumer group."""

from __future__ import annotations

import json
import re
from pathlib import Path

from apps.console.settings import ConsoleSettings
from roadwatch.settings import DEFAULT_HOME, METRICS_PORTS, ROOT
from roadwatch.supervisor import ServiceSpec, Supervisor
from schemas.records import VLM_TIERS

FLINK_PYTHON = ROOT / ".venv-flink" / "bin" / "python"
INSTANCE_PORT_STEP = 1000  # instance i of a service serves metrics on its port + i * 1000


def _instances(
    name: str, args: list[str], env: dict[str, str], prefix: str, port: int, count: int
) -> list[ServiceSpec]:
    """`count` instances of one service in its consumer group: each its own instance id (its static member
    and transactional id) and metrics port; the first keeps the service's plain name and defaults."""
    specs = []
    for i in range(count):
        own = (
            {}
            if i == 0
            else {f"{prefix}INSTANCE_ID": str(i), f"{prefix}METRICS_PORT": str(port + i * INSTANCE_PORT_STEP)}
        )
        specs.append(
            ServiceSpec(
                name if i == 0 else f"{name}-{i + 1}", args, {**env, **own}, port + i * INSTANCE_PORT_STEP
            )
        )
    return specs


SHADOW_PORT = METRICS_PORTS["detector"] + 30  # the shadow detector's default (`DetectorSettings`)


def shadow_variant(model: Path) -> str:
    """The variant name of a shadow detector running `model`: its file name without the suffix."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", model.stem)[:64] or "shadow"


def shadow_detector(model: Path, models_dir: Path, roots: str) -> ServiceSpec:
    """A shadow detector running `model` beside production: its own group, variant-tagged detections only."""
    env = {
        "ROADWATCH_DETECTOR_SHADOW": shadow_variant(model),
        "ROADWATCH_DETECTOR_MODELS": json.dumps([{"path": str(model)}]),
        "ROADWATCH_DETECTOR_MODELS_DIR": str(models_dir),
        "ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS": roots,
        "ROADWATCH_DETECTOR_SHADOW_METRICS_PORT": str(SHADOW_PORT),
    }
    return ServiceSpec("detector-shadow", ["-m", "services.detector"], env, SHADOW_PORT)


def local_services(
    models_dir: Path,
    images: Path,
    flink_python: Path | None,
    instances: int = 1,
    shadow_model: Path | None = None,
) -> list[ServiceSpec]:
    """Detector and the three tiers on the `local` backend (`instances` of each), the sink, its maintainer,
    the web console, the Flink job when `flink_python` names its env, and a shadow detector when
    `shadow_model` names its model (a file under `models_dir`, or absolute). Each listens on its own default
    metrics port (`roadwatch.settings.METRICS_PORTS`; the console on its page port); the detector, the tiers
    and the console read image files only under `images` (their allow-lists deny everything else)."""
    roots = json.dumps([str(images.resolve())])
    specs = _instances(
        "detector",
        ["-m", "services.detector"],
        {"ROADWATCH_DETECTOR_MODELS_DIR": str(models_dir), "ROADWATCH_DETECTOR_ALLOWED_FILE_ROOTS": roots},
        "ROADWATCH_DETECTOR_",
        METRICS_PORTS["detector"],
        instances,
    )
    if shadow_model is not None:
        specs.append(shadow_detector(shadow_model, models_dir, roots))
    for tier in VLM_TIERS:
        specs += _instances(
            f"vlm-{tier}",
            ["-m", "services.vlm_tier", "--tier", tier],
            {"ROADWATCH_VLM_MODELS_DIR": str(models_dir), "ROADWATCH_VLM_ALLOWED_FILE_ROOTS": roots},
            f"ROADWATCH_VLM_{tier.upper()}_",
            METRICS_PORTS[f"vlm-{tier}"],
            instances,
        )
    specs += [
        ServiceSpec("sink", ["-m", "services.sink"], {}, METRICS_PORTS["sink"]),
        ServiceSpec("maintainer", ["-m", "services.maintainer"], {}, METRICS_PORTS["maintainer"]),
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


def supervisor(
    models: Path,
    images: Path,
    *,
    with_flink: bool = True,
    instances: int = 1,
    shadow_model: Path | None = None,
) -> Supervisor:
    """The pipeline's services, logging to `~/.roadwatch/logs/<name>.log`; `with_flink`: the Flink job as
    one of them (the embedded profile: its stack has no Flink of its own); `shadow_model`: a shadow detector
    running that model beside production."""
    flink = FLINK_PYTHON if with_flink else None
    services = local_services(models.resolve(), images, flink, instances, shadow_model)
    return Supervisor(services, DEFAULT_HOME / "logs", ROOT)
