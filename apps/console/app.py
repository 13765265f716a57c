"""The web console: pages for people and, under them, the JSON API they are drawn from (`/api/...`,
described at `/openapi.json`). FastAPI, for that schema and its typed query parameters at no extra cost;
pages are Jinja2 templates with autoescaping on, so a `source_id` or a dead letter holding `<script>` is
shown as text. Reads go to Iceberg through `roadwatch.analytics` (the numbers `roadwatch query` gives);
the live feed comes from Kafka (`live.LiveFeed`)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from apps.console import charts
from apps.console.health import ServiceHealth, probe
from apps.console.images import rendition
from apps.console.live import LiveFeed, sse
from apps.console.overview import overview
from apps.console.settings import ConsoleSettings
from apps.console.tuning import tuning
from roadwatch.analytics import browse
from roadwatch.analytics.queries import Rows, run_query
from roadwatch.analytics.settings import parse_since
from roadwatch.analytics.tables import Tables
from roadwatch.errors import ConfigError, InvalidInputError
from roadwatch.labels.core import label, roadwork_of
from roadwatch.labels.store import stored_event
from roadwatch.settings import METRICS_PORTS
from schemas import Label

HERE = Path(__file__).parent
T = TypeVar("T")
COOKIE = "roadwatch_token"
OPEN_PATHS = ("/login", "/static/", "/ready")  # /ready says "ok" and nothing else
Publish = Callable[[Sequence[Label]], int]  # sends labels to `labels.v1` (`LabelPublisher.publish`)


def create_app(
    settings: ConsoleSettings, tables: Tables, feed: LiveFeed | None, publish: Publish | None = None
) -> FastAPI:
    """The console over `tables`, with the live feed of `feed` (None: the page says the feed is off) and
    labels sent through `publish` (None: the Event page offers no label buttons)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if feed is not None:
            feed.close()

    app = FastAPI(title="roadwatch console", version="1", lifespan=lifespan)
    templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    policy, limits = settings.fetch_policy(), settings.limits()

    @app.middleware("http")
    async def token_gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if settings.token is None or request.url.path.startswith(OPEN_PATHS):
            return await call_next(request)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = given or request.cookies.get(COOKIE, "")
        if secrets.compare_digest(given.encode(), settings.token.get_secret_value().encode()):
            return await call_next(request)
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"detail": "a token is needed (Authorization: Bearer ...)"}, 401)
        return RedirectResponse("/login", 303)

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"nav": name, **context})

    # ---- probes -------------------------------------------------------------------------------------

    @app.get("/ready", include_in_schema=False)
    def ready() -> Response:
        return Response("ok\n", media_type="text/plain")

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    # ---- the JSON API -------------------------------------------------------------------------------

    @app.get("/api/funnel", tags=["api"])
    def api_funnel(since: str | None = None) -> dict[str, Any]:
        """Images in, verdicts, decided per tier, escalated, degraded, dead letters (`query funnel`)."""
        return run_query("funnel", since=_since(since), tables=tables)[0]

    @app.get("/api/tiers", tags=["api"])
    def api_tiers(since: str | None = None) -> Rows:
        """Per tier: calls, outcomes, latency p50/p95 and a cost estimate (`query tiers`)."""
        return run_query("tiers", since=_since(since), tables=tables)

    @app.get("/api/tuning", tags=["api"])
    def api_tuning(since: str | None = None) -> dict[str, Any]:
        """The cost-vs-MCC Pareto front of the tune grid over the labelled events (`tune`'s `pareto`)."""
        found = tuning(tables, _since(since))
        return {"labelled": found["labelled"], "front": found["front"]}

    @app.get("/api/sources", tags=["api"])
    def api_sources() -> Rows:
        """Every camera: roadwork state and since when, counts, recent scores, last event."""
        return browse.sources(tables)

    @app.get("/api/verdicts", tags=["api"])
    def api_verdicts(
        source: str | None = None,
        decision: Literal["roadwork", "clear"] | None = None,
        tier: str | None = None,
        degraded: bool | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
    ) -> Rows:
        """The newest verdicts, filtered; newest first."""
        return browse.verdicts(tables, _filter(source, decision, tier, degraded, since, until, limit))

    @app.get("/api/events/{event_id}", tags=["api"], responses={404: {"description": "no such event"}})
    def api_event(event_id: str) -> dict[str, Any]:
        """Everything known about one image (boxes, opinions, dead letters, the audit trail)."""
        found = browse.event(tables, event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r} in the tables")
        return found

    @app.get("/api/dead-letters", tags=["api"])
    def api_dead_letters(reason: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> Rows:
        """The newest dead letters with their original record as text."""
        return browse.dead_letters(tables, reason=reason, limit=limit)

    @app.get("/api/health", tags=["api"])
    def api_health() -> list[ServiceHealth]:
        """Each service's readiness, consumer lag and (tiers) breaker state, from its own endpoint."""
        return [probe(name, port) for name, port in METRICS_PORTS.items()]

    @app.get(
        "/api/images/{event_id}",
        tags=["api"],
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": {}}},
            403: {"description": "the image's URI is not on the allow-list"},
            404: {"description": "no such event, or its image is gone (or was sent inline)"},
            422: {"description": "the image fails the limits or does not decode"},
        },
    )
    def api_image(event_id: str, size: Literal["thumb", "full"] = "thumb") -> Response:
        """The event's image as JPEG, fetched under the console's allow-list and limits."""
        rows = tables.read("detections", event_id=event_id, columns=("image_uri", "image_sha256")).to_pylist()
        if not rows:
            raise HTTPException(404, f"no detection for event {event_id!r}")
        try:
            data = rendition(
                rows[0]["image_uri"],
                rows[0]["image_sha256"],
                policy,
                limits,
                settings.thumbnail_px if size == "thumb" else None,
            )
        except InvalidInputError as exc:
            status = (
                404
                if exc.reason in ("no_image", "unreachable")
                else 403
                if exc.reason == "uri_not_allowed"
                else 422
            )
            raise HTTPException(status, f"{exc.reason}: {exc}") from exc
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.get(
        "/api/live",
        tags=["api"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, 503: {"description": "the feed is off"}},
    )
    async def api_live() -> StreamingResponse:
        """Server-Sent Events: one `verdict` event per verdict committed from now on."""
        if feed is None or feed.error is not None:
            raise HTTPException(
                503, f"the live feed is off: {feed.error if feed else 'started without Kafka'}"
            )

        async def stream() -> AsyncIterator[str]:
            yield ": connected\n\n"
            async for row in feed.events():
                yield sse(row)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    # ---- pages ----------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview_page(request: Request, since: str | None = None) -> HTMLResponse:
        when = _since(since)
        recent = browse.verdicts(tables, browse.VerdictFilter(since=when, limit=settings.page_rows))
        return page(
            request,
            "overview.html",
            since=since or "",
            recent=recent,
            recent_boxes=browse.boxes(tables, recent),
            health=[probe(name, port) for name, port in METRICS_PORTS.items()],
            **overview(tables, when),
        )

    @app.get("/tuning", response_class=HTMLResponse, include_in_schema=False)
    def tuning_page(request: Request, since: str | None = None) -> HTMLResponse:
        return page(request, "tuning.html", since=since or "", tuning=tuning(tables, _since(since)))

    @app.get("/cameras", response_class=HTMLResponse, include_in_schema=False)
    def cameras(request: Request) -> HTMLResponse:
        bands = feed.bands() if feed is not None else {}
        rows = browse.sources(tables)
        for r in rows:
            band = bands.get(r["source_id"])
            r["band"] = f"{band[0]:.2f} to {band[1]:.2f}" if band else None
            r["sparkline"] = charts.sparkline(r["scores"], *(band or (None, None)))
        return page(request, "cameras.html", sources=rows)

    @app.get("/decisions", response_class=HTMLResponse, include_in_schema=False)
    def decisions(request: Request) -> HTMLResponse:
        # the search form sends every field, an empty one meaning "any"
        given = {k: v for k, v in request.query_params.items() if v}
        f = _filter(
            given.get("source"),
            _choice(given, "decision", {"roadwork": "roadwork", "clear": "clear"}),
            given.get("tier"),
            _choice(given, "degraded", {"true": True, "false": False}),
            given.get("since"),
            given.get("until"),
            settings.page_rows,
        )
        rows = browse.verdicts(tables, f)
        return page(
            request,
            "decisions.html",
            rows=rows,
            boxes=browse.boxes(tables, rows),
            query=dict(request.query_params),
            live=feed is not None and feed.error is None,
            live_error=feed.error if feed is not None else "started without Kafka",
        )

    @app.get("/events/{event_id}", response_class=HTMLResponse, include_in_schema=False)
    def event_page(request: Request, event_id: str) -> HTMLResponse:
        found = browse.event(tables, event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r} in the tables")
        return page(
            request,
            "event.html",
            e=found,
            labelling=publish is not None,
            labelled=request.query_params.get("labelled"),
        )

    @app.get("/dead-letters", response_class=HTMLResponse, include_in_schema=False)
    def dead_letters_page(request: Request, reason: str | None = None) -> HTMLResponse:
        return page(
            request,
            "dead_letters.html",
            summary=run_query("dead-letters", tables=tables),
            rows=browse.dead_letters(tables, reason=reason or None, limit=settings.page_rows),
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html", failed=False)

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: str = Form(...)) -> Response:
        expected = settings.token.get_secret_value() if settings.token else ""
        if not expected or not secrets.compare_digest(token.encode(), expected.encode()):
            return page(request, "login.html", failed=True)
        out = RedirectResponse("/", 303)
        out.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return out

    if publish is not None:
        _labelling(app, tables, settings, publish)

    return app


def _labelling(app: FastAPI, tables: Tables, settings: ConsoleSettings, publish: Publish) -> None:
    """The routes that label an event's image (only where the console can send labels)."""

    def send_label(event_id: str, truth: str) -> Label:
        try:
            made = label(
                stored_event(tables, event_id),
                roadwork_of(truth),
                origin="human",
                labelled_by=settings.labelled_by,
                now=datetime.now(UTC),
                label_id=str(uuid.uuid4()),
            )
        except InvalidInputError as exc:
            raise HTTPException(404 if exc.reason == "unknown_event" else 422, str(exc)) from exc
        publish([made])
        return made

    @app.post("/api/events/{event_id}/label", tags=["api"], responses={404: {"description": "no such event"}})
    def api_label(event_id: str, truth: Literal["roadwork", "clear"]) -> dict[str, Any]:
        """Label the event's image roadwork or clear (a later label supersedes this one); the label sent."""
        return send_label(event_id, truth).model_dump(mode="json")

    @app.post("/events/{event_id}/label", include_in_schema=False)
    def label_form(event_id: str, truth: Literal["roadwork", "clear"] = Form(...)) -> Response:
        send_label(event_id, truth)
        return RedirectResponse(f"/events/{event_id}?labelled={truth}", 303)


def _since(value: str | None, name: str = "since") -> datetime | None:
    """A time-window parameter; a bad one is a 422 shaped like FastAPI's own (as the schema says)."""
    if not value:
        return None
    try:
        return parse_since(value)
    except ConfigError as exc:
        error = {"loc": ("query", name), "msg": str(exc), "type": "value_error", "input": value}
        raise RequestValidationError([error]) from exc


def _choice(given: dict[str, str], name: str, choices: dict[str, T]) -> T | None:
    """A form field that must be one of `choices` (absent: None); else a 422 like FastAPI's own."""
    if name not in given:
        return None
    if given[name] not in choices:
        wanted = " or ".join(choices)
        error = {
            "loc": ("query", name),
            "msg": f"must be {wanted}",
            "type": "value_error",
            "input": given[name],
        }
        raise RequestValidationError([error])
    return choices[given[name]]


def _filter(
    source: str | None,
    decision: str | None,
    tier: str | None,
    degraded: bool | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> browse.VerdictFilter:
    return browse.VerdictFilter(
        source=source,
        roadwork=None if decision is None else decision == "roadwork",
        tier=tier,
        degraded=degraded,
        since=_since(since),
        until=_since(until, "until"),
        limit=limit,
    )
