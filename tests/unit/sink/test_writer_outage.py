"""The sink's writer through an outage of the catalog or its storage: it waits, says why it is not ready,
never appends a batch twice when a failed call had in fact committed, and never rebases a newer writer's
offsets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from roadwatch.iceberg import offsets
from services.sink import writer
from services.sink.writer import StaleWriterError, TableWriter

SCHEMA = pa.schema([pa.field("event_id", pa.string(), nullable=False)])


class Flaky:
    """A table whose appends fail `fails` times with OSError (what pyarrow's S3 and requests raise), the
    first `landed` of them after the commit went through (the reply was what got lost)."""

    def __init__(self, table: Table, fails: int, landed: int = 0) -> None:
        self.table, self.fails, self.landed = table, fails, landed

    def append(self, rows: pa.Table, snapshot_properties: dict[str, str]) -> None:
        if self.fails:
            self.fails -= 1
            if self.landed:
                self.landed -= 1
                self.table.append(rows, snapshot_properties=snapshot_properties)
            raise OSError("When uploading part for key 'data/x.parquet': AWS Error NETWORK_CONNECTION")
        self.table.append(rows, snapshot_properties=snapshot_properties)

    def refresh(self) -> Flaky:
        self.table = self.table.refresh()
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)


@pytest.fixture
def table(tmp_path: Path) -> Table:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=tmp_path.as_uri())
    catalog.create_namespace("ns")
    return catalog.create_table("ns.t", SCHEMA, properties={"commit.retry.num-retries": "0"})


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer.time, "sleep", lambda s: None)


def rows(*ids: str) -> pa.Table:
    return pa.table({"event_id": list(ids)}, schema=SCHEMA)


def event_ids(table: Table) -> list[str]:
    return sorted(table.refresh().scan().to_arrow().column("event_id").to_pylist())


def test_an_outage_is_waited_out_and_readiness_says_why_meanwhile(table: Table) -> None:
    flaky = Flaky(table, fails=3)
    w = TableWriter(flaky, retries=0)  # type: ignore[arg-type]
    reasons: list[str | None] = []
    real_sleep = writer.TableWriter._unavailable

    def unavailable(self: TableWriter, exc: BaseException, delay: float) -> None:
        real_sleep(self, exc, delay)
        reasons.append(self.outage.reason())

    writer.TableWriter._unavailable = unavailable  # type: ignore[method-assign]
    try:
        w.commit(rows("a", "b"), {("images", 0): 0}, {("images", 0): 2})
    finally:
        writer.TableWriter._unavailable = real_sleep  # type: ignore[method-assign]
    assert len(reasons) == 3 and all(r and "does not answer (OSError" in r for r in reasons)
    assert w.outage.reason() is None  # ready again once the commit went through
    assert event_ids(table) == ["a", "b"]
    assert offsets.committed(table.refresh()) == {("images", 0): 2}


def test_a_commit_whose_reply_was_lost_is_not_appended_again(table: Table) -> None:
    w = TableWriter(Flaky(table, fails=1, landed=1), retries=0)  # type: ignore[arg-type]
    w.commit(rows("a", "b"), {("images", 0): 0}, {("images", 0): 2})
    assert event_ids(table) == ["a", "b"]  # once, although append failed after committing
    w.commit(rows("c"), {("images", 0): 2}, {("images", 0): 3})
    assert event_ids(table) == ["a", "b", "c"] and w.committed == {("images", 0): 3}


def test_a_writer_overtaken_during_the_outage_is_stale_not_rebased(table: Table) -> None:
    flaky = Flaky(table, fails=1)
    w = TableWriter(flaky, retries=0)  # type: ignore[arg-type]
    newer = TableWriter(table, retries=0)
    original = flaky.append

    def fail_once_while_a_newer_writer_commits(rows_: pa.Table, snapshot_properties: dict[str, str]) -> None:
        if flaky.fails:
            newer.commit(rows("a"), {("images", 0): 0}, {("images", 0): 1})
        original(rows_, snapshot_properties)

    flaky.append = fail_once_while_a_newer_writer_commits  # type: ignore[method-assign]
    with pytest.raises(StaleWriterError):
        w.commit(rows("a", "b"), {("images", 0): 0}, {("images", 0): 2})
    assert offsets.committed(table.refresh()) == {("images", 0): 1}  # the newer writer's, not ours
    assert event_ids(table) == ["a"]


def test_a_batch_a_newer_writer_covered_during_the_outage_is_stale_too(table: Table) -> None:
    flaky = Flaky(table, fails=1)
    w = TableWriter(flaky, retries=0)  # type: ignore[arg-type]
    newer = TableWriter(table, retries=0)
    original = flaky.append

    def fail_once_while_a_twin_commits(rows_: pa.Table, snapshot_properties: dict[str, str]) -> None:
        if flaky.fails:
            newer.commit(rows("a", "b", "c"), {("images", 0): 0}, {("images", 0): 3})
        original(rows_, snapshot_properties)

    flaky.append = fail_once_while_a_twin_commits  # type: ignore[method-assign]
    with pytest.raises(StaleWriterError):  # not taken for our own landed commit: it re-seeks
        w.commit(rows("a", "b"), {("images", 0): 0}, {("images", 0): 2})
    assert event_ids(table) == ["a", "b", "c"] and offsets.committed(table.refresh()) == {("images", 0): 3}
