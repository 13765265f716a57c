import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from flink_jobs.checkpoints import latest_checkpoint, prune


def checkpoint(root: Path, job: str, n: int, mtime: float, complete: bool = True) -> Path:
    chk = root / job / f"chk-{n}"
    chk.mkdir(parents=True)
    if complete:
        (chk / "_metadata").write_bytes(b"x")
        os.utime(chk / "_metadata", (mtime, mtime))
    return chk


def test_no_checkpoint_in_an_empty_or_missing_directory(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "missing") is None
    assert latest_checkpoint(tmp_path) is None


def test_the_newest_complete_checkpoint_across_jobs_wins(tmp_path: Path) -> None:
    checkpoint(tmp_path, "job-a", 7, 1000)
    newest = checkpoint(tmp_path, "job-b", 2, 2000)
    checkpoint(tmp_path, "job-b", 3, 3000, complete=False)  # still being written: no _metadata
    assert latest_checkpoint(tmp_path) == newest


def test_prune_keeps_only_the_job_of_the_restored_checkpoint(tmp_path: Path) -> None:
    old = checkpoint(tmp_path, "job-a", 7, 1000)
    keep = checkpoint(tmp_path, "job-b", 2, 2000)
    assert prune(tmp_path, keep) == [old.parent]
    assert [p.name for p in tmp_path.iterdir()] == ["job-b"]
    assert prune(tmp_path / "missing", None) == []


def test_flink_settings_are_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    from flink_jobs.settings import LAYOUT, FlinkSettings

    monkeypatch.setenv("ROADWATCH_FLINK_PYTHON_WORKERS", "thread")
    with pytest.raises(ValidationError, match="'process' or 'loopback'"):
        FlinkSettings()
    monkeypatch.setenv("ROADWATCH_FLINK_PYTHON_WORKERS", "loopback")
    monkeypatch.setenv("ROADWATCH_FLINK_RESTORE", "ture")  # a typo is an error, not False
    with pytest.raises(ValidationError, match="restore"):
        FlinkSettings()
    monkeypatch.setenv("ROADWATCH_FLINK_RESTORE", "false")
    assert FlinkSettings().restore is False
    monkeypatch.setenv("ROADWATCH_FLINK_PYTHON_WORKERS", "loopback")
    monkeypatch.setenv("ROADWATCH_FLINK_CHECKPOINT_DIR", "/data/chk")
    assert FlinkSettings().checkpoints == Path("/data/chk") / f"layout-{LAYOUT}"


def test_the_jvm_gets_the_jobs_options_unless_the_user_gave_their_own() -> None:
    from flink_jobs.settings import FlinkSettings

    s = FlinkSettings(jvm_args="-Xmx640m -XX:+UseSerialGC")
    assert s.jvm_environment("") == "-Xmx640m -XX:+UseSerialGC"
    # taken as given, not appended: the JVM refuses two collectors in one command line
    assert s.jvm_environment("-Xmx2g -XX:+UseG1GC") == "-Xmx2g -XX:+UseG1GC"


def test_the_job_reaches_kafka_with_the_services_settings() -> None:
    from pydantic import SecretStr

    from flink_jobs.settings import java_client_properties
    from roadwatch.settings import KafkaSettings

    kafka = KafkaSettings(
        bootstrap_servers="b:9093",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="flink",
        sasl_password=SecretStr("pw"),
    )
    assert java_client_properties(kafka) == {
        "bootstrap.servers": "b:9093",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain."
        'PlainLoginModule required username="flink" password="pw";',
    }
    assert java_client_properties(KafkaSettings(bootstrap_servers="b:1")) == {
        "bootstrap.servers": "b:1",
        "security.protocol": "PLAINTEXT",
    }


@pytest.mark.parametrize("parallelism", [1, 2, 4, 8, 16])
def test_the_mini_clusters_network_memory_holds_what_its_parallelism_needs(parallelism: int) -> None:
    from flink_jobs.settings import FlinkSettings

    # Flink's buffers per input gate: 2 exclusive per channel (one channel per upstream subtask) + 8
    # floating; the job's three shuffles each have one gate per subtask; 32 KB segments
    needed_mb = 3 * parallelism * (2 * parallelism + 8) * 32 / 1024
    got = FlinkSettings(parallelism=parallelism).network_memory_mb
    assert needed_mb * 2 <= got
    if parallelism <= 4:  # not Flink's 64 MB default of direct memory for a small job
        assert got < 64
