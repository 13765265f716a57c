"""Where the job's retained checkpoints live, and which one a restart resumes from (no PyFlink here).

Flink writes `<dir>/<job-id>/chk-<n>/_metadata` last, so a checkpoint with `_metadata` is complete. A new
run restores from the newest complete one: a SIGKILLed job resumes with its keyed state and the Kafka
offsets of that checkpoint, and its transactional sink re-emits nothing that was already committed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def _number(chk: Path) -> int:
    try:
        return int(chk.name.removeprefix("chk-"))
    except ValueError:
        return -1


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under `root` (by modification time, then checkpoint number)."""
    complete = [m.parent for m in root.glob("*/chk-*/_metadata") if m.is_file()]
    if not complete:
        return None
    return max(complete, key=lambda chk: ((chk / "_metadata").stat().st_mtime, _number(chk)))


def prune(root: Path, keep: Path | None) -> list[Path]:
    """Remove the job directories under `root` other than the one holding `keep`; returns what went."""
    if not root.is_dir():
        return []
    gone = [job for job in root.iterdir() if job.is_dir() and (keep is None or job != keep.parent)]
    for job in gone:
        shutil.rmtree(job)
        log.info("removed old checkpoints %s", job)
    return gone
