"""Result comparison with the semantics of the official Spider test-suite evaluator.

Two results are the same when some permutation of the prediction's columns makes its rows equal to the
gold rows: as a list when order matters, as a multiset (bag) otherwise. Two empty results are always the
same, whatever their columns. Values compare with Python equality, so ``1 == 1.0``.

The critic, the EX metric and DPO labelling all call ``same_result``; nothing else compares results.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

Row = tuple[Any, ...]


def _sort_key(value: Any) -> str:
    # Sorting by the text plus the type name mirrors the reference evaluator's row canonicalisation,
    # which decides whether two rows hold the same bag of values before columns are matched.
    return str(value) + str(type(value))


def _canonical_row(row: Row) -> Row:
    return tuple(sorted(row, key=_sort_key))


def _bags_agree(gold: Sequence[Row], pred: Sequence[Row], order_matters: bool) -> bool:
    g = [_canonical_row(r) for r in gold]
    p = [_canonical_row(r) for r in pred]
    return g == p if order_matters else set(g) == set(p)


def _candidate_permutations(gold_columns: list[set[Any]], pred: Sequence[Row], rng: random.Random) -> Iterator[Row]:
    width = len(pred[0])
    allowed = [set(range(width)) for _ in range(width)]
    if width > 3:
        # A sample of prediction rows rules out column pairings whose values never occur in the gold column;
        # pruning is sound (it only removes impossible pairings), so the verdict does not depend on the sample.
        for _ in range(20):
            row = pred[rng.randrange(len(pred))]
            for g_col in range(width):
                for p_col in list(allowed[g_col]):
                    if row[p_col] not in gold_columns[g_col]:
                        allowed[g_col].discard(p_col)
    for perm in itertools.product(*allowed):
        if len(set(perm)) == width:
            yield perm


def same_result(gold: Sequence[Row], pred: Sequence[Row], order_matters: bool) -> bool:
    """True when ``pred`` denotes the same result as ``gold`` (official test-suite semantics)."""
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    if not _bags_agree(gold, pred, order_matters):
        return False
    gold_columns = [{row[i] for row in gold} for i in range(width)]
    gold_list = list(gold)
    gold_bag: Counter[Row] | None = None
    for perm in _candidate_permutations(gold_columns, pred, random.Random(0)):
        permuted = list(pred) if width == 1 else [tuple(row[i] for i in perm) for row in pred]
        if order_matters:
            if gold_list == permuted:
                return True
        else:
            if gold_bag is None:
                gold_bag = Counter(gold_list)
            if set(gold_list) == set(permuted) and gold_bag == Counter(permuted):
                return True
    return False


def gold_order_matters(gold_sql: str) -> bool:
    """Whether row order counts, decided from the gold query the way the official evaluator decides it.

    The reference looks for the text ``order by`` anywhere in the lower-cased gold query (after DISTINCT
    removal), so a nested ORDER BY also makes order count; agreement with it matters more than purity.
    """
    return "order by" in gold_sql.lower()


def rows_as_tuples(rows: Iterable[Iterable[Any]]) -> list[Row]:
    return [tuple(r) for r in rows]
