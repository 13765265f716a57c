"""The console over real tables without Kafka: the API gives `roadwatch query`'s numbers, pages carry a
`data-event-id` per verdict and escape what they show, images come only from the allow-list, and a token
guards every request when one is set."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient

from apps.console.app import create_app
from apps.console.settings import ConsoleSettings
from roadwatch.analytics.queries import run_query
from schemas import Label
from tests.console_tables import HOSTILE, XSS, Filled, write
from tests.labelled_tables import new_label

Client = Callable[..., TestClient]


def test_the_funnel_is_the_query_funnel(client: Client, filled: Filled) -> None:
    got = client().get("/api/funnel").json()
    assert got == json.loads(json.dumps(run_query("funnel", tables=filled.tables)[0], default=str))
    assert (got["verdicts"], got["images"], got["dead_letters"]) == (9, 9, 1)


def test_verdicts_filter_by_source_and_decision_newest_first(client: Client, filled: Filled) -> None:
    rows = client().get("/api/verdicts", params={"source": "cam-1", "decision": "roadwork"}).json()
    expected = [v for v in filled.verdicts if v.source_id == "cam-1" and v.roadwork]
    assert [r["event_id"] for r in rows] == [
        v.event_id for v in sorted(expected, key=lambda v: v.decided_at, reverse=True)
    ]
    assert (
        client().get("/api/verdicts", params={"limit": 2}).json()[0]["event_id"]
        == filled.verdicts[-1].event_id
    )
    assert client().get("/api/verdicts", params={"limit": 0}).status_code == 422


def test_an_event_holds_its_boxes_and_opinions_and_an_unknown_one_is_404(
    client: Client, filled: Filled
) -> None:
    e = client().get(f"/api/events/{filled.image_event}").json()
    assert e["detection"]["detections"][0]["label"] == HOSTILE
    assert e["verdict"]["opinions"][0]["tier"] == "fast"
    assert {t["table"] for t in e["trail"]} == {"detections", "verdicts"}
    assert client().get("/api/events/nope").status_code == 404


def test_pages_carry_every_verdict_and_escape_what_they_show(client: Client, filled: Filled) -> None:
    c = client()
    decisions = c.get("/decisions").text
    for v in filled.verdicts:
        assert f'data-event-id="{v.event_id}"' in decisions
    assert HOSTILE not in decisions and "&lt;b&gt;x&lt;/b&gt;" in decisions
    echoed = c.get("/decisions", params={"source": XSS}).text  # a search echoes its query back
    assert XSS not in echoed and "&lt;script&gt;" in echoed
    letters = c.get("/dead-letters").text
    assert XSS not in letters and "&lt;script&gt;alert(1)&lt;/script&gt;" in letters
    for path in ("/", "/cameras", f"/events/{filled.image_event}"):
        page = c.get(path)
        assert page.status_code == 200, path
        assert HOSTILE not in page.text, path
    assert 'viewBox="0 0 1 1"' in c.get(f"/events/{filled.image_event}").text  # the boxes' overlay


def test_images_come_from_the_allow_list_only(client: Client, filled: Filled) -> None:
    c = client()
    thumb = c.get(f"/api/images/{filled.image_event}")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert len(c.get(f"/api/images/{filled.image_event}", params={"size": "full"}).content) > len(
        thumb.content
    )
    other = filled.verdicts[1].event_id  # its detection names file:///x.jpg, outside the allowed root
    assert c.get(f"/api/images/{other}").status_code == 403
    denied = client(allowed_file_roots=[]).get(f"/api/images/{filled.image_event}")
    assert denied.status_code == 403


def test_a_token_guards_every_request_when_set(client: Client) -> None:
    c = client(token="t" * 20)
    assert c.get("/api/funnel").status_code == 401
    assert c.get("/openapi.json").status_code == 401
    assert c.get("/decisions", follow_redirects=False).status_code == 303
    assert c.get("/api/funnel", headers={"Authorization": "Bearer " + "t" * 20}).status_code == 200
    assert c.get("/api/funnel", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.post("/login", data={"token": "t" * 20}, follow_redirects=False).status_code == 303
    assert c.get("/api/funnel").status_code == 200  # the login's cookie


def test_binding_off_loopback_needs_a_token() -> None:
    with pytest.raises(ValueError, match="set token"):
        ConsoleSettings(host="0.0.0.0")
    assert not ConsoleSettings(host="0.0.0.0", token="x" * 16).loopback
    assert ConsoleSettings(host="::1").loopback


def test_the_openapi_schema_lists_the_api(client: Client) -> None:
    paths = client().get("/openapi.json").json()["paths"]
    for path in (
        "/api/funnel",
        "/api/sources",
        "/api/verdicts",
        "/api/events/{event_id}",
        "/api/dead-letters",
    ):
        assert path in paths


def test_the_search_form_as_a_browser_sends_it(client: Client, filled: Filled) -> None:
    c = client()
    blank = dict.fromkeys(("source", "decision", "tier", "degraded", "since", "until"), "")
    every = c.get("/decisions", params=blank)
    assert every.status_code == 200 and every.text.count("<tr data-event-id=") == len(filled.verdicts)
    some = c.get("/decisions", params=blank | {"decision": "clear", "degraded": "true"}).text
    expected = [v.event_id for v in filled.verdicts if not v.roadwork and v.degraded]
    assert some.count("<tr data-event-id=") == len(expected) == 1 and expected[0] in some
    assert c.get("/decisions", params={"decision": "maybe"}).status_code == 422


def test_the_event_page_labels_the_image_through_the_publisher(filled: Filled) -> None:
    sent: list[Label] = []

    def publish(labels: Sequence[Label]) -> int:
        sent.extend(labels)
        return len(labels)

    settings = ConsoleSettings(allowed_file_roots=[filled.images], live=False, labelled_by="reviewer")
    app = TestClient(create_app(settings, filled.tables, None, publish))
    v = filled.verdicts[2]
    page = app.get(f"/events/{v.event_id}").text
    assert "not labelled" in page
    assert ">wrong</button>" in page
    wrong = "clear" if v.roadwork else "roadwork"
    answer = app.post(f"/events/{v.event_id}/label", data={"truth": wrong}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/events/{v.event_id}?labelled={wrong}")
    (made,) = sent
    assert (made.event_id, made.source_id, made.roadwork, made.origin, made.labelled_by) == (
        v.event_id,
        v.source_id,
        not v.roadwork,
        "human",
        "reviewer",
    )
    assert made.image_sha256 == filled.detections[2].image_sha256
    assert app.post("/api/events/nope/label", params={"truth": "clear"}).status_code == 404
    assert len(sent) == 1


def test_without_a_publisher_there_is_no_label_button_and_no_route(client: Callable[..., TestClient]) -> None:
    app = client()
    assert app.post("/api/events/x/label", params={"truth": "clear"}).status_code == 404
    assert "</button>" not in app.get(f"/events/{app.get('/api/verdicts').json()[0]['event_id']}").text


def test_the_event_page_shows_the_newest_label_and_the_history(filled: Filled) -> None:
    v = filled.verdicts[2]
    sha = filled.detections[2].image_sha256
    write(
        filled.tables,
        "labels",
        [new_label(v, sha, v.roadwork, 1), new_label(v, sha, not v.roadwork, 5, "human")],
    )
    settings = ConsoleSettings(allowed_file_roots=[filled.images], live=False)
    page = TestClient(create_app(settings, filled.tables, None)).get(f"/events/{v.event_id}").text
    assert "the verdict is wrong" in page
    assert page.count("<td>test</td>") == 2  # both labels in the history


def test_the_tuning_page_draws_the_front_of_the_labelled_events(filled: Filled) -> None:
    settings = ConsoleSettings(allowed_file_roots=[filled.images], live=False)
    app = TestClient(create_app(settings, filled.tables, None))
    assert app.get("/api/tuning").json() == {"labelled": 0, "front": []}
    assert "no labelled events yet" in app.get("/tuning").text
    pairs = zip(filled.verdicts, filled.detections, strict=True)
    write(filled.tables, "labels", [new_label(v, d.image_sha256, v.roadwork, 1) for v, d in pairs])
    found = app.get("/api/tuning").json()
    assert found["labelled"] == len(filled.verdicts) and found["front"]
    costs = [p["cost_per_event"] for p in found["front"]]
    assert costs == sorted(costs)
    page = app.get("/tuning").text
    assert 'class="chart pareto"' in page and page.count("<tr><td>") == len(found["front"])
