"""The console in a real browser (Playwright driving Debian's Chromium, never a downloaded one) against the
console as a process, real Iceberg tables and the real broker: the Overview's funnel is `query funnel`'s,
a verdict committed to Kafka shows in the Decisions feed within 3 s, an Event page draws its boxes over
the image, markup in the data stays text, and with a token set every page wants it first (the token is
what binding off loopback requires; the test binds loopback only, by the network rule of these machines).
Each page's screenshot is written under `$ROADWATCH_SCREENSHOTS` when set."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from roadwatch.analytics.queries import run_query
from roadwatch.ports import free_port
from roadwatch.settings import KafkaSettings
from tests.console_tables import HOSTILE, Filled, fill
from tests.factories import verdict
from tests.helpers import wait_for
from tests.services import ServiceProcess

pytestmark = pytest.mark.integration
CHROMIUM = os.environ.get("ROADWATCH_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
TOKEN = "browser-test-token-0123456789"
SHOTS = os.environ.get("ROADWATCH_SCREENSHOTS")


@dataclass
class Console:
    url: str
    filled: Filled
    topic: str


def _start(env: dict[str, str], args: list[str], log: Path, port: int) -> ServiceProcess:
    proc = ServiceProcess("apps.cli", env, log, ["ui", "--port", str(port), *args]).start()

    def up() -> bool:
        assert proc.alive(), log.read_text()[-2000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 60, "the console to answer")
    return proc


@pytest.fixture
def console(kafka: KafkaSettings, topic_factory, tmp_path: Path, shared_dir: Path) -> Iterator[Console]:
    filled = fill(tmp_path, shared_dir)
    topic, thresholds = topic_factory("verdicts"), topic_factory("thresholds")
    env = {
        "ROADWATCH_CATALOG_WAREHOUSE": str(tmp_path / "warehouse"),
        "ROADWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ROADWATCH_CONSOLE_VERDICTS_TOPIC": topic,
        "ROADWATCH_CONSOLE_THRESHOLDS_TOPIC": thresholds,
        "ROADWATCH_CONSOLE_ALLOWED_FILE_ROOTS": str(filled.images),
    }
    port = free_port()
    proc = _start(env, [], tmp_path / "console.log", port)
    try:
        yield Console(f"http://127.0.0.1:{port}", filled, topic)
    finally:
        proc.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: scripts/setup.sh installs Debian's `chromium` (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_overview_shows_the_query_funnel(console: Console, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(console.url + "/")
    funnel = run_query("funnel", tables=console.filled.tables)[0]
    for key in ("images", "verdicts", "escalated", "degraded", "roadwork", "dead_letters"):
        shown = page.locator(f'#funnel [data-metric="{key}"] .n').inner_text()
        assert int(shown) == funnel[key], key
    assert page.locator("tr[data-event-id]").count() == len(console.filled.verdicts)
    _shot(page, "overview")
    for path, name in (("/cameras", "cameras"), ("/dead-letters", "dead-letters")):
        page.goto(console.url + path)
        _shot(page, name)


def test_a_committed_verdict_shows_in_the_live_feed_within_3_s(
    console: Console,
    browser,
    producer_factory,  # type: ignore[no-untyped-def]
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(console.url + "/decisions")
    assert page.locator("tr[data-event-id]").count() == len(console.filled.verdicts)  # the history
    page.wait_for_selector("#live-state.on", timeout=15_000)
    time.sleep(1)  # the feed's reader sits at the topic's end once the console's first poll is done
    v = verdict(99, source="cam-live")
    producer = producer_factory()
    producer.produce(console.topic, key=b"cam-live", value=v.model_dump_json().encode())
    producer.flush(10)
    committed = time.monotonic()
    page.wait_for_selector(f'#live tr[data-event-id="{v.event_id}"]', timeout=3_000)
    latency = time.monotonic() - committed
    assert latency < 3.0
    assert page.locator(f'#live tr[data-event-id="{v.event_id}"] td').nth(2).inner_text() == "cam-live"
    _shot(page, "decisions")


def test_an_event_page_draws_its_boxes_and_markup_stays_text(
    console: Console,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    event = console.filled.image_event
    page.goto(f"{console.url}/events/{event}")
    page.wait_for_function("() => document.querySelector('figure.full img').naturalWidth > 0")
    boxes = page.locator("figure.full svg.boxes rect")
    assert boxes.count() == len(console.filled.detections[0].detections)
    box = boxes.first.bounding_box()
    img = page.locator("figure.full img").bounding_box()
    assert box is not None and img is not None and box["width"] > 10 and box["x"] >= img["x"]
    assert HOSTILE in page.locator("#boxes").inner_text()  # shown as the text it is
    assert page.locator("#boxes b").count() == 0  # not as markup
    _shot(page, "event")
    page.goto(console.url + "/dead-letters")
    assert "<script>alert(1)</script>" in page.locator(".letter pre").first.inner_text()
    page.goto(console.url + "/decisions?source=%3Cscript%3Ealert(2)%3C/script%3E")
    assert dialogs == []


def test_with_a_token_every_page_wants_it_first(
    kafka: KafkaSettings,
    tmp_path: Path,
    shared_dir: Path,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    fill(tmp_path, shared_dir)
    port = free_port()
    env = {
        "ROADWATCH_CATALOG_WAREHOUSE": str(tmp_path / "warehouse"),
        "ROADWATCH_CONSOLE_TOKEN": TOKEN,
    }
    proc = _start(env, ["--no-live"], tmp_path / "console.log", port)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/api/funnel").status_code == 401
        page = browser.new_page()
        page.goto(url + "/decisions")
        assert page.url.endswith("/login")
        page.fill("input[name=token]", "wrong")
        page.click("button")
        assert page.locator(".error").inner_text() == "wrong token"
        page.fill("input[name=token]", TOKEN)
        page.click("button")
        page.wait_for_selector("#funnel")
        assert TOKEN not in page.content()
    finally:
        proc.stop()
