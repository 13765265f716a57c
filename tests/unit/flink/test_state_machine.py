import pickle
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

from flink_jobs.records import render, to_applied, to_event
from flink_jobs.state_machine import Anchor, BandsOut, Config, Event, State, StateOut, step
from schemas import SourceState, Thresholds
from tests.factories import detection_result, verdict

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)
CFG = Config(emit_every=1000)


def v(
    i: int, roadwork: bool, decided_by: str = "detector", score: float = 0.5, degraded: bool = False
) -> Event:
    return Event(
        "verdict",
        f"v{i}",
        "cam-1",
        T0 + timedelta(seconds=i),
        score=score,
        roadwork=roadwork,
        decided_by=decided_by,
        degraded=degraded,
    )


def run(events: list[Event], config: Config = CFG) -> tuple[State, list[object]]:
    state, outs = None, []
    for e in events:
        result = step(state, e, config)
        state, outs = result.state, outs + result.outputs
    assert state is not None
    return state, outs


def alerts(outs: list[object]) -> list[str]:
    return [o.alert for o in outs if isinstance(o, StateOut) and o.alert]


def test_alerts_fire_once_per_change_with_hysteresis() -> None:
    seq = (
        [v(i, True) for i in range(10)]
        + [v(10 + i, i % 2 == 0) for i in range(6)]
        + [v(20 + i, False) for i in range(10)]
    )
    state, outs = run(seq)
    assert alerts(outs) == ["roadwork_started", "roadwork_cleared"]
    assert state.roadwork_active is False


def test_no_alert_before_min_events() -> None:
    _, outs = run([v(0, True), v(1, True)])
    assert alerts(outs) == []


def test_bands_widen_on_disagreement_within_bounds() -> None:
    # escalated verdicts where the detector (score 0.1 → "clear") and the final (roadwork) disagree
    seq = [v(i, True, decided_by="fast", score=0.1) for i in range(60)]
    state, outs = run(seq)
    bands = [o for o in outs if isinstance(o, BandsOut)]
    assert bands and all(b.evidence >= CFG.min_evidence for b in bands)
    assert (state.low, state.high) == (CFG.low_min, CFG.high_max)
    assert all(CFG.low_min <= b.low <= b.high <= CFG.high_max for b in bands)


def test_bands_narrow_on_agreement_but_keep_min_width() -> None:
    seq = [v(i, True, decided_by="fast", score=0.9) for i in range(100)]
    state, _ = run(seq)
    assert state.high - state.low >= CFG.min_width - 1e-9
    assert state.high - state.low < CFG.default_high - CFG.default_low


def test_detector_decisions_and_degraded_verdicts_are_not_evidence() -> None:
    seq = [v(i, True, decided_by="detector", score=0.1) for i in range(30)]
    seq += [v(30 + i, True, decided_by="detector", score=0.1, degraded=True) for i in range(30)]
    state, outs = run(seq)
    assert state.evidence == 0 and not [o for o in outs if isinstance(o, BandsOut)]
    assert state.degraded_count == 30 and dict(state.tier_counts) == {"detector": 60}


def test_late_events_are_counted_not_folded_and_out_of_order_ones_are_folded() -> None:
    state, _ = run([v(1000, True), v(900, False), v(0, True)], Config(lateness_s=300, emit_every=1000))
    assert state.late == 1 and state.verdicts == 2
    assert state.newest == T0 + timedelta(seconds=1000)


def test_detections_update_score_and_escalation_rate() -> None:
    det = [
        Event("detection", f"d{i}", "cam-1", T0 + timedelta(seconds=i), score=0.3, escalated=i % 2 == 0)
        for i in range(20)
    ]
    state, _ = run(det)
    assert abs(state.ewma_score - 0.3) < 1e-9 and 0.3 < state.escalation_rate < 0.7


def test_state_is_emitted_periodically() -> None:
    _, outs = run([v(i, True) for i in range(25)], Config(emit_every=10))
    assert sum(isinstance(o, StateOut) for o in outs) >= 2


def test_records_round_trip() -> None:
    e = to_event("detection", detection_result(3).model_dump_json())
    assert e.kind == "detection" and e.score == 0.7
    e2 = to_event("verdict", verdict(4).model_dump_json())
    result = step(None, e2, Config(emit_every=1))
    state = result.state
    assert pickle.loads(pickle.dumps(state)) == state  # what the job's ValueState holds
    SourceState.model_validate_json(render("cam-1", result.outputs[0], state))  # type: ignore[arg-type]
    Thresholds.model_validate_json(render("cam-1", BandsOut(0.1, 0.5, 7), state))


def test_outputs_for_the_detection_and_the_verdict_of_one_image_have_distinct_ids() -> None:
    config = Config(emit_every=1)
    detection = to_event("detection", detection_result(1, source="cam-1").model_dump_json().encode())
    final = to_event(
        "verdict", verdict(1, source="cam-1", event_id=detection.event_id).model_dump_json().encode()
    )
    first = step(None, detection, config)
    second = step(first.state, final, config)
    ids = [
        SourceState.model_validate_json(render("cam-1", out, r.state)).event_id
        for r in (first, second)
        for out in r.outputs
        if isinstance(out, StateOut)
    ]
    assert len(ids) == 2 and len(set(ids)) == 2


def applied(low: float, high: float, drift: float | None, i: int = 0) -> Event:
    return Event("applied", f"a{i}", "cam-1", T0, applied=Anchor(low, high, drift))


def test_an_applied_band_is_the_new_start_and_emits_nothing() -> None:
    state, outs = run([v(0, True, decided_by="fast", score=0.9), applied(0.3, 0.9, 0.05)])
    assert (state.low, state.high, state.evidence) == (0.3, 0.9, 0)
    assert state.verdicts == 1 and not [o for o in outs if isinstance(o, BandsOut)]


def test_moves_after_an_applied_band_stay_within_its_drift() -> None:
    wide = [v(i, True, decided_by="fast", score=0.1) for i in range(1, 80)]
    state, outs = run([applied(0.3, 0.9, 0.05), *wide])
    bands = [o for o in outs if isinstance(o, BandsOut)]
    assert bands and (state.low, state.high) == (0.25, 0.95)  # not CFG.low_min / high_max
    narrow = [v(i, True, decided_by="fast", score=0.95) for i in range(100, 200)]
    state, _ = run([applied(0.3, 0.9, 0.05), *narrow])
    assert (state.low, state.high) == (0.35, 0.85)  # narrowed one drift, no further


def test_an_applied_band_without_drift_moves_within_the_config_bounds() -> None:
    seq = [applied(0.3, 0.9, None), *(v(i, True, decided_by="fast", score=0.1) for i in range(1, 80))]
    state, _ = run(seq)
    assert (state.low, state.high) == (CFG.low_min, 0.9)  # high_max (0.8) stretched to the band's


def test_an_applied_band_is_never_late() -> None:
    late = Event("applied", "a", "cam-1", T0 - timedelta(days=1), applied=Anchor(0.2, 0.4, 0.0))
    state, _ = run([v(0, True), late])
    assert (state.low, state.high, state.late) == (0.2, 0.4, 0)


def test_thresholds_records_fold_only_when_applied() -> None:
    def record(**extra: object) -> str:
        return Thresholds(
            event_id="t",
            captured_at=T0,
            low=0.2,
            high=0.6,
            evidence=0,
            updated_at=T0,
            **{"source_id": "cam-1", **extra},  # type: ignore[arg-type]
        ).model_dump_json()

    assert to_applied(record()) is None  # the job's own adaptive band
    assert to_applied(None) is None
    event = to_applied(record(origin="applied", drift=0.1))
    assert event is not None and event.applied == Anchor(0.2, 0.6, 0.1)
    # the applied default is the detector's to enforce: the job holds no state under `_default`
    assert to_applied(record(origin="applied", scope="default", source_id="_default")) is None


def test_each_state_a_step_returns_is_a_whole_state() -> None:
    """`step` copies states without `__init__`: every state it returns has exactly State's fields."""
    d = Event("detection", "d1", "cam-1", T0, score=0.7, escalated=True)
    applied = Event("applied", "a1", "cam-1", T0, applied=Anchor(0.3, 0.5, 0.05))
    late = v(-1000, True)
    state = None
    for e in [d, v(1, True, "fast"), applied, late, v(2, False, "power", degraded=True)]:
        state = step(state, e, CFG).state
        assert set(vars(state)) == {f.name for f in fields(State)}
        assert replace(state) == state and pickle.loads(pickle.dumps(state)) == state
    assert state is not None and state.late == 1 and state.events == 3 and state.anchor is not None
