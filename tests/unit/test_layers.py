"""The layering rule, read off the imports of every module (top-level and inside functions alike):

    schemas  <-  roadwatch (the library)  <-  services/*, flink_jobs  <-  apps (the entry points)

A layer imports only the layers below it; one service never imports another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"schemas": 0, "roadwatch": 1, "services": 2, "flink_jobs": 2, "apps": 3}


def imports(path: Path) -> set[str]:
    """Every absolute module name `path` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(module: str, imported: set[str]) -> list[str]:
    """The imports of `module` that break the rule."""
    top = module.split(".")[0]
    bad = []
    for name in sorted(imported):
        other = name.split(".")[0]
        if other not in LAYERS or (other == top and top != "services"):
            continue
        if LAYERS[other] > LAYERS[top] or (LAYERS[other] == LAYERS[top] and other != top):
            bad.append(f"{module} imports {name} (layer {other} is not below {top})")
        elif top == "services" and other == "services" and name.split(".")[:2] != module.split(".")[:2]:
            bad.append(f"{module} imports {name} (one service never imports another)")
    return bad


def modules() -> list[tuple[str, Path]]:
    out = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            out.append((".".join(path.relative_to(ROOT).with_suffix("").parts), path))
    return out


def test_every_layer_has_modules() -> None:
    assert {m.split(".")[0] for m, _ in modules()} == set(LAYERS)


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_module_imports_only_layers_below(module: str, path: Path) -> None:
    assert violations(module, imports(path)) == []


@pytest.mark.parametrize(
    ("module", "imported", "broken"),
    [
        ("roadwatch.iceberg.catalog", {"services.sink.writer"}, True),
        ("roadwatch.kafka.txloop", {"apps.cli"}, True),
        ("roadwatch.kafka.deadletter", {"flink_jobs.records"}, True),
        ("schemas.records", {"roadwatch.errors"}, True),
        ("services.vlm_tier.backends.local_backend", {"services.detector.core"}, True),
        ("flink_jobs.confidence_state", {"services.sink.pipeline"}, True),
        ("services.vlm_tier.pipeline", {"services.vlm_tier.core", "roadwatch.vision.scoring"}, False),
        ("apps.cli.run_cmd", {"services.detector.service", "flink_jobs.settings"}, False),
        ("flink_jobs.settings", {"roadwatch.settings", "schemas"}, False),
    ],
)
def test_rule_catches_a_bad_import(module: str, imported: set[str], broken: bool) -> None:
    assert bool(violations(module, imported)) is broken
