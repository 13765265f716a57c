import pytest

from services.vlm_tier.parsing import Answer, Unparseable, parse_answer

CASES = [
    ('{"roadwork": true, "confidence": 0.9, "evidence": ["cones"]}', Answer(True, 0.9, ("cones",))),
    ('```json\n{"roadwork": false, "confidence": 0.8, "evidence": []}\n```', Answer(False, 0.8, ())),
    (
        'Sure! Here it is: {"roadwork": true, "confidence": 0.75, "evidence": ["barrier"]} Hope it helps.',
        Answer(True, 0.75, ("barrier",)),
    ),
    (
        '{"roadwork": true, "confidence": 85, "evidence": ["cones", "work',
        Answer(True, 0.85, ("cones", "work")),
    ),
    ("{'roadwork': 'yes', 'confidence': '0.7', 'evidence': [],}", Answer(True, 0.7, ())),
    (
        '{"roadwork": "no", "confidence": "90%", "evidence": "empty road"}',
        Answer(False, 0.9, ("empty road",)),
    ),
    ('{"roadwork": true, "confidence": 0.6', Answer(True, 0.6, ())),
]
UNPARSEABLE = [
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    ("I cannot tell.", "no_json_object"),
    ('{"roadwork": "maybe", "confidence": 0.5}', "no_roadwork_field"),
    ('{"verdict": "roadwork"}', "no_roadwork_field"),
    ('{"roadwork": true, "confidence": 7.5e9}', "bad_confidence"),
    ('{"roadwork": true, "confidence": "high"}', "bad_confidence"),
    ('{"roadwork": true}', "bad_confidence"),
    ("[1, 2, 3]", "no_json_object"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_answers_are_repaired(text: str, expected: Answer) -> None:
    assert parse_answer(text) == expected


@pytest.mark.parametrize(("text", "reason"), UNPARSEABLE)
def test_junk_is_an_explicit_unparseable_never_a_clear(text: str | None, reason: str) -> None:
    result = parse_answer(text)
    assert isinstance(result, Unparseable)
    assert result.reason == reason
