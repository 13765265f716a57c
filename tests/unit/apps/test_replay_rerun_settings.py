"""`replay --rerun` asks the tiers with their own settings, reading images where `--images` says, else
where the tier may already read, else the shared datasets (as `demo` and `run all` let the tiers read)."""

import argparse
from pathlib import Path

from apps.cli.replay_cmd import _rerun_settings
from roadwatch.settings import DATASETS_DIR
from services.vlm_tier.settings import tier_settings


def test_images_then_the_tiers_own_roots_then_the_shared_datasets(tmp_path: Path) -> None:
    fast = tier_settings("fast")
    none = argparse.Namespace(images=None, models=None)
    assert _rerun_settings(fast.model_copy(update={"allowed_file_roots": []}), none).allowed_file_roots == [
        DATASETS_DIR
    ]
    own = fast.model_copy(update={"allowed_file_roots": [tmp_path / "own"]})
    assert _rerun_settings(own, none).allowed_file_roots == [tmp_path / "own"]
    given = argparse.Namespace(images=[tmp_path / "a", tmp_path / "b"], models=tmp_path / "m")
    chosen = _rerun_settings(own, given)
    assert chosen.allowed_file_roots == [tmp_path / "a", tmp_path / "b"]
    assert chosen.models_dir == tmp_path / "m" and chosen.tier == "fast"
