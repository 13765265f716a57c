"""`Confusion`: counting predictions and the figures derived from the counts."""

import pytest

from roadwatch.analytics.scores import Confusion


def test_of_counts_each_cell() -> None:
    truth = [True, True, True, False, False, True, False]
    predicted = [True, False, True, True, False, True, False]
    assert Confusion.of(truth, predicted) == Confusion(tp=3, fp=1, tn=2, fn=1)
    assert Confusion.of([], []) == Confusion(0, 0, 0, 0)


def test_of_refuses_lists_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        Confusion.of([True, False], [True])


def test_figures_of_a_hand_computed_case() -> None:
    c = Confusion(tp=6, fp=1, tn=2, fn=1)
    assert c.total == 10
    assert c.accuracy == pytest.approx(8 / 10)
    assert c.precision == pytest.approx(6 / 7)
    assert c.recall == pytest.approx(6 / 7)
    # (6*2 - 1*1) / sqrt((6+1) * (6+1) * (2+1) * (2+1)) = 11 / 21
    assert c.mcc == pytest.approx(11 / 21)


def test_precision_and_recall_are_not_swapped() -> None:
    c = Confusion(tp=2, fp=2, tn=5, fn=6)
    assert (c.precision, c.recall) == pytest.approx((2 / 4, 2 / 8))
    # (2*5 - 2*6) / sqrt(4 * 8 * 7 * 11)
    assert c.mcc == pytest.approx(-2 / (4 * 8 * 7 * 11) ** 0.5)


@pytest.mark.parametrize(
    "c",
    [
        Confusion(tp=0, fp=0, tn=5, fn=3),  # nothing predicted positive
        Confusion(tp=4, fp=2, tn=0, fn=0),  # nothing predicted negative
        Confusion(tp=0, fp=3, tn=4, fn=0),  # nothing truly positive
        Confusion(tp=3, fp=0, tn=0, fn=2),  # nothing truly negative
        Confusion(0, 0, 0, 0),
    ],
)
def test_mcc_is_zero_when_a_margin_is_empty(c: Confusion) -> None:
    assert c.mcc == 0.0


def test_empty_counts_give_zeros_not_errors() -> None:
    c = Confusion(0, 0, 0, 0)
    assert (c.accuracy, c.precision, c.recall, c.mcc) == (0.0, 0.0, 0.0, 0.0)


def test_perfect_predictions_score_one() -> None:
    truth = [True, False, True, True, False]
    c = Confusion.of(truth, truth)
    assert c == Confusion(tp=3, fp=0, tn=2, fn=0)
    assert (c.accuracy, c.precision, c.recall) == (1.0, 1.0, 1.0)
    assert c.mcc == pytest.approx(1.0)


def test_inverted_predictions_score_minus_one() -> None:
    truth = [True, False, True, True, False]
    c = Confusion.of(truth, [not t for t in truth])
    assert c == Confusion(tp=0, fp=2, tn=0, fn=3)
    assert (c.accuracy, c.precision, c.recall) == (0.0, 0.0, 0.0)
    assert c.mcc == pytest.approx(-1.0)
