"""Result comparison with the semantics of the official Spider test-suite evaluator.

Two results are the same when some permutation of the prediction's columns makes its rows equal to the
gold rows: as a list when order matters, as a multiset (bag) otherwise. Two empty results are always the
same, whatever their columns. Values compare with Python equality, so ``1 == 1.0``.

The critic, the EX metric and DPO labelling all call ``same_result``; nothing else compares results.
"""

from __future__ import annotations

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


def _candidate_permutations(gold: Sequence[Row], pred: Sequence[Row], order_matters: bool) -> Iterator[Row]:
    """Column orders of ``pred`` that could make it equal ``gold``, each distinct outcome once.

    A prediction column can only stand for a gold column holding the same values: the same sequence when
    order matters, the same multiset otherwise (any permutation that matches maps whole columns onto whole
    columns). Prediction columns with identical values are interchangeable, so only one of their orders is
    tried. Both cuts are sound: the verdict is that of trying every permutation, without the n! blow-up on
    wide results."""
    width = len(pred[0])

    def column(rows: Sequence[Row], i: int) -> Any:
        values = [row[i] for row in rows]
        return tuple(values) if order_matters else Counter(values)

    pred_cols = [column(pred, j) for j in range(width)]
    classes: list[list[int]] = []  # prediction columns with identical values (in row order)
    for j in range(width):
        for members in classes:
            if all(row[members[0]] == row[j] for row in pred):
                members.append(j)
                break
        else:
            classes.append([j])
    allowed = []
    for i in range(width):
        g = column(gold, i)
        allowed.append([c for c, members in enumerate(classes) if pred_cols[members[0]] == g])
        if not allowed[-1]:
            return
    left = [len(members) for members in classes]
    chosen: list[int] = []

    def assign(i: int) -> Iterator[Row]:
        if i == width:
            used = [0] * len(classes)
            perm = []
            for c in chosen:
                perm.append(classes[c][used[c]])
                used[c] += 1
            yield tuple(perm)
            return
        for c in allowed[i]:
            if left[c]:
                left[c] -= 1
                chosen.append(c)
                yield from assign(i + 1)
                chosen.pop()
                left[c] += 1

    yield from assign(0)


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
    gold_list = list(gold)
    gold_bag: Counter[Row] | None = None
    for perm in _candidate_permutations(gold_list, pred, order_matters):
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
