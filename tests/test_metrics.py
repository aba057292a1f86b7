import math

import pytest
from hypothesis import given, strategies as st

from recommender.metrics import average_precision, ndcg_at_k, precision_at_k, recall_at_k


def test_average_precision_hand_checked():
    # hits at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision(["a", "b", "c", "d"], {"a", "c"}) == pytest.approx((1 + 2 / 3) / 2)
    # one relevant never retrieved counts as precision 0
    assert average_precision(["a", "b"], {"a", "z"}) == pytest.approx(0.5)
    # single hit at rank 4
    assert average_precision(["w", "x", "y", "a"], ["a"]) == pytest.approx(0.25)


def test_ndcg_hand_checked():
    assert ndcg_at_k(["x", "a", "y"], {"a"}, 3) == pytest.approx(1 / math.log2(3))
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(["a", "x", "b"], {"a", "b"}, 2) == pytest.approx(1 / idcg)
    # beyond the cut-off nothing counts
    assert ndcg_at_k(["x", "y", "a"], {"a"}, 2) == 0.0
    # ideal ordering
    assert ndcg_at_k(["a", "b", "x"], {"a", "b"}, 20) == pytest.approx(1.0)


def test_recall_precision_hand_checked():
    assert recall_at_k(["a", "x", "b"], {"a", "b"}, 2) == pytest.approx(0.5)
    assert recall_at_k(["a", "x", "b"], {"a", "b"}, 3) == pytest.approx(1.0)
    assert precision_at_k(["a", "x", "b"], {"a", "b"}, 2) == pytest.approx(0.5)
    # denominator is k even for a short ranking
    assert precision_at_k(["a", "x", "b"], {"a", "b"}, 5) == pytest.approx(0.4)


def test_empty_relevant_and_duplicates():
    assert average_precision(["a"], set()) == 0.0
    assert ndcg_at_k(["a"], [], 5) == 0.0
    assert recall_at_k(["a"], [], 5) == 0.0
    # a duplicated relevant id is counted once
    assert precision_at_k(["a", "a", "a"], {"a"}, 3) == pytest.approx(1 / 3)
    # after dedup the ranking is [a, b]: both hits at ranks 1, 2
    assert average_precision(["a", "a", "b"], {"a", "b"}) == pytest.approx(1.0)


@pytest.mark.parametrize("fn", [ndcg_at_k, recall_at_k, precision_at_k])
@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_raises(fn, k):
    with pytest.raises(ValueError):
        fn(["a"], {"a"}, k)


@given(st.permutations(list(range(12))), st.sets(st.integers(0, 11), min_size=1))
def test_bounds_and_perfect_ranking(perm, rel):
    for v in (average_precision(perm, rel), ndcg_at_k(perm, rel, 5), recall_at_k(perm, rel, 5), precision_at_k(perm, rel, 5)):
        assert 0.0 <= v <= 1.0 + 1e-12
    perfect = sorted(rel) + [i for i in range(12) if i not in rel]
    assert average_precision(perfect, rel) == pytest.approx(1.0)
    assert ndcg_at_k(perfect, rel, 5) == pytest.approx(1.0)
    assert average_precision(perm, rel) <= average_precision(perfect, rel) + 1e-12
