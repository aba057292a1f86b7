"""Ranking metrics with binary relevance.

All functions are pure: they take a ranking (a sequence of item ids, best first) and a
collection of relevant ids, and return a float in [0, 1].  Duplicate ids in a ranking are
counted once, at their first position (a ranking is expected to be a permutation; this
keeps the metrics bounded by 1 if it is not).

Sources
-------
* Average precision: Manning, Raghavan & Schütze, *Introduction to Information Retrieval*
  (2008), §8.4, eq. 8.1 (MAP is its mean over queries/tasks).
* nDCG: Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
  ACM TOIS 20(4), 2002 — here with binary gains and the log2(rank + 1) discount used by
  most modern toolkits (e.g. trec_eval's ``ndcg_cut``).
* Precision@k / Recall@k: Manning et al. (2008) §8.3.
"""
from __future__ import annotations

import math
from typing import Hashable, Iterable, Sequence

__all__ = ["average_precision", "ndcg_at_k", "recall_at_k", "precision_at_k"]


def _dedup(ranking: Iterable[Hashable]) -> list:
    seen: set = set()
    out = []
    for item in ranking:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")


def average_precision(ranking: Sequence[Hashable], relevant: Iterable[Hashable]) -> float:
    """Average precision of one ranking.

    AP = (1 / |R|) * sum_{k : item_k in R} P@k,   P@k = |{relevant in top k}| / k

    where R is the set of relevant ids.  Relevant ids missing from the ranking contribute
    precision 0 (so AP < 1 if the ranking does not retrieve them all).  Source: Manning,
    Raghavan & Schütze (2008), IIR §8.4.

    Args:
        ranking: ids, best first.
        relevant: relevant ids (any iterable; converted to a set).
    Returns:
        AP in [0, 1]; 0.0 when ``relevant`` is empty.
    """
    rel = set(relevant)
    if not rel:
        return 0.0
    hits = 0
    total = 0.0
    for i, item in enumerate(_dedup(ranking), start=1):
        if item in rel:
            hits += 1
            total += hits / i
    return total / len(rel)


def ndcg_at_k(ranking: Sequence[Hashable], relevant: Iterable[Hashable], k: int) -> float:
    """Normalised discounted cumulative gain at cut-off k, binary gains.

    DCG@k  = sum_{i=1..k} rel_i / log2(i + 1),      rel_i in {0, 1}
    IDCG@k = sum_{i=1..min(k, |R|)} 1 / log2(i + 1)
    nDCG@k = DCG@k / IDCG@k

    Source: Järvelin & Kekäläinen (2002), ACM TOIS 20(4):422-446, with the log2(i+1)
    discount applied from rank 1.

    Args:
        ranking: ids, best first.
        relevant: relevant ids.
        k: cut-off, positive int (ValueError otherwise).
    Returns:
        nDCG@k in [0, 1]; 0.0 when ``relevant`` is empty.
    """
    _check_k(k)
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, item in enumerate(_dedup(ranking)[:k], start=1) if item in rel)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(rel)) + 1))
    return dcg / idcg


def recall_at_k(ranking: Sequence[Hashable], relevant: Iterable[Hashable], k: int) -> float:
    """Recall at cut-off k: |relevant in top k| / |R|.

    Source: Manning et al. (2008), IIR §8.3.

    Args:
        ranking: ids, best first.
        relevant: relevant ids.
        k: cut-off, positive int (ValueError otherwise).
    Returns:
        value in [0, 1]; 0.0 when ``relevant`` is empty.
    """
    _check_k(k)
    rel = set(relevant)
    if not rel:
        return 0.0
    return sum(1 for item in _dedup(ranking)[:k] if item in rel) / len(rel)


def precision_at_k(ranking: Sequence[Hashable], relevant: Iterable[Hashable], k: int) -> float:
    """Precision at cut-off k: |relevant in top k| / k.

    The denominator is k even when the ranking is shorter than k (standard trec_eval
    convention).  Source: Manning et al. (2008), IIR §8.3.

    Args:
        ranking: ids, best first.
        relevant: relevant ids.
        k: cut-off, positive int (ValueError otherwise).
    Returns:
        value in [0, 1].
    """
    _check_k(k)
    rel = set(relevant)
    return sum(1 for item in _dedup(ranking)[:k] if item in rel) / k
