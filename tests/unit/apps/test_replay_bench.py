"""`bench replay` on a small synthetic set: every figure is there and the policies give different paths."""

from apps.bench import replay
from roadwatch.analytics.replay import figures


def test_the_bench_reports_each_policy_and_the_policies_differ() -> None:
    got = replay.run(events=20_000)
    assert {k for k in got if k.startswith("replay_s[")} == {f"replay_s[{n}]" for n in replay.POLICIES}
    assert got["from_arrow_s"] > 0
    events = replay.synthetic(20_000)
    rates = {
        n: figures(events, replay.replay(events, p), replay.COST)["escalation_rate"]
        for n, p in replay.POLICIES.items()
    }
    assert rates["global 0.05-0.95"] > rates["stored bands"] > 0
