"""The cluster profile's Flink: a standalone session cluster (a JobManager and TaskManagers from the
apache-flink distribution in `.venv-flink`, in the foreground under pid files), and the confidence-state job
submitted to it with `flink run`. Checkpoints are retained under the cluster's home; a resubmitted job
restores the newest (`flink_jobs.confidence_state.configuration`)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from roadwatch.errors import StackError
from roadwatch.settings import ROOT
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.daemon import Daemon

log = logging.getLogger(__name__)
VENV = ROOT / ".venv-flink"
PYTHON = VENV / "bin" / "python"  # not resolved: the link is what makes it the venv's interpreter
JOB_MODULE = "flink_jobs.confidence_state"
PROMETHEUS_REPORTER = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
_SUBMITTED = re.compile(r"JobID ([0-9a-f]{32})")


@dataclass(frozen=True)
class FlinkJob:
    id: str
    name: str
    state: str


def distribution() -> Path:
    """The Flink distribution the apache-flink wheel ships (`bin/`, `conf/`, `lib/`, `plugins/`)."""
    for candidate in sorted(VENV.glob("lib/python3*/site-packages/pyflink")):
        if (candidate / "bin" / "jobmanager.sh").exists():
            return candidate
    raise StackError(f"no Flink distribution under {VENV}: run scripts/setup.sh (it creates .venv-flink)")


def conf_dir(s: ClusterSettings) -> Path:
    return s.home / "flink" / "conf"


def log_dir(s: ClusterSettings) -> Path:
    return s.home / "flink" / "log"


def checkpoints(s: ClusterSettings) -> Path:
    return s.home / "flink" / "checkpoints"


def jobmanager(s: ClusterSettings) -> Daemon:
    return Daemon("flink-jobmanager", s.home)


def taskmanager(s: ClusterSettings, n: int = 1) -> Daemon:
    return Daemon(f"flink-taskmanager-{n}", s.home)


def config(s: ClusterSettings, java_opts: str) -> dict[str, Any]:
    """The cluster's `config.yaml` (written as JSON, which YAML reads): everything on `s.host`, the
    Prometheus reporter, the venv's Python for the client and the workers."""
    return {
        "env.java.opts.all": java_opts,
        "jobmanager.bind-host": s.host,
        "jobmanager.rpc.address": s.host,
        "jobmanager.rpc.port": s.flink_rpc_port,
        "jobmanager.memory.process.size": s.flink_jobmanager_memory,
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": s.host,
        "taskmanager.host": s.host,
        "taskmanager.numberOfTaskSlots": s.flink_slots,
        "taskmanager.memory.process.size": s.flink_taskmanager_memory,
        "rest.address": s.host,
        "rest.bind-address": s.host,
        "rest.port": s.flink_rest_port,
        "blob.server.port": str(s.flink_rpc_port + 1),
        "metrics.reporter.prom.factory.class": PROMETHEUS_REPORTER,
        "metrics.reporter.prom.port": s.flink_metrics_ports,
        "python.executable": str(PYTHON),
        "python.client.executable": str(PYTHON),
        # a job whose TaskManager died waits for a new one rather than failing for good
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": 1000,
        "restart-strategy.fixed-delay.delay": "2 s",
        "heartbeat.timeout": 15000,
    }


def write_conf(s: ClusterSettings) -> Path:
    """The cluster's own conf dir (the distribution's log4j files, our config.yaml); returns it."""
    dist = distribution()
    conf = conf_dir(s)
    conf.mkdir(parents=True, exist_ok=True)
    for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
        shutil.copy(dist / "conf" / name, conf / name)
    opts = re.search(r"^\s*all:\s*(.+)$", (dist / "conf" / "config.yaml").read_text(), re.MULTILINE)
    if opts is None:
        raise StackError(f"{dist / 'conf' / 'config.yaml'} has no env.java.opts.all line to start from")
    (conf / "config.yaml").write_text(json.dumps(config(s, opts.group(1).strip()), indent=2) + "\n")
    return conf


def _env(s: ClusterSettings) -> dict[str, str]:
    # PYTHONPATH: the job's Python workers (in the TaskManager) import flink_jobs, roadwatch and schemas
    return {
        "FLINK_CONF_DIR": str(conf_dir(s)),
        "FLINK_LOG_DIR": str(log_dir(s)),
        "PYTHONPATH": str(ROOT),
    }


def start(s: ClusterSettings) -> None:
    """Start the JobManager and one TaskManager unless they run."""
    write_conf(s)
    log_dir(s).mkdir(parents=True, exist_ok=True)
    jobmanager(s).start([str(distribution() / "bin" / "jobmanager.sh"), "start-foreground"], env=_env(s))
    start_taskmanager(s, 1)


def start_taskmanager(s: ClusterSettings, n: int) -> int:
    """Start TaskManager `n` (a second one replaces a killed one in the fault tests)."""
    return taskmanager(s, n).start(
        [str(distribution() / "bin" / "taskmanager.sh"), "start-foreground"], env=_env(s)
    )


def stop(s: ClusterSettings) -> None:
    for d in sorted(s.home.glob("flink-taskmanager-*.pid")):
        Daemon(d.stem, s.home).stop()
    jobmanager(s).stop()


def overview(s: ClusterSettings) -> dict[str, Any] | None:
    """The JobManager's `/overview` (TaskManagers, slots, jobs), or None when it does not answer."""
    try:
        reply = httpx.get(f"{s.flink_rest}/overview", timeout=2.0)
    except httpx.HTTPError:
        return None
    return dict(reply.json()) if reply.status_code == 200 else None


def jobs(s: ClusterSettings) -> list[FlinkJob]:
    """The jobs the session cluster knows, newest first; empty when it does not answer."""
    try:
        reply = httpx.get(f"{s.flink_rest}/jobs/overview", timeout=2.0)
    except httpx.HTTPError:
        return []
    listed = sorted(reply.json().get("jobs", []), key=lambda j: -int(j.get("start-time", 0)))
    return [FlinkJob(j["jid"], j["name"], j["state"]) for j in listed]


def running_job(s: ClusterSettings) -> FlinkJob | None:
    return next((j for j in jobs(s) if j.state in ("RUNNING", "CREATED", "RESTARTING", "INITIALIZING")), None)


def submit(s: ClusterSettings, env: dict[str, str], checkpoint_dir: Path | None = None) -> str:
    """Submit the confidence-state job detached (`flink run -d`), with `env` (the profile, Kafka settings)
    for the client that builds it, its checkpoints under `checkpoint_dir` (default: the cluster's, which
    the production job restores from); returns its job id."""
    argv = [str(distribution() / "bin" / "flink"), "run", "-d", "-pym", JOB_MODULE]
    argv += ["-pyclientexec", str(PYTHON), "-pyexec", str(PYTHON)]
    job_env = {
        **os.environ,
        **env,
        **_env(s),
        "ROADWATCH_FLINK_DETACHED": "true",
        "ROADWATCH_FLINK_CHECKPOINT_DIR": str(checkpoint_dir or checkpoints(s)),
    }
    out = s.home / "flink-submit.out"
    proc = subprocess.run(argv, env=job_env, cwd=ROOT, capture_output=True, text=True, check=False)
    out.write_text(proc.stdout + proc.stderr)
    found = _SUBMITTED.search(proc.stdout + proc.stderr)
    if proc.returncode != 0 or found is None:
        raise StackError(
            f"`flink run` did not submit the confidence-state job (rc {proc.returncode}); see {out}"
        )
    log.info("submitted the confidence-state job %s to the Flink session cluster", found.group(1))
    return found.group(1)


def cancel(s: ClusterSettings, job_id: str) -> None:
    """Cancel a job (its retained checkpoints stay for the next submission to restore)."""
    httpx.patch(f"{s.flink_rest}/jobs/{job_id}", params={"mode": "cancel"}, timeout=10.0).raise_for_status()
