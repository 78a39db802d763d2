"""same_result: the official test-suite comparison, case by case and on random tables."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from sqldistill.db import gold_order_matters, same_result


@pytest.mark.parametrize(
    ("gold", "pred", "order", "expected"),
    [
        ([], [], False, True),
        ([], [(1, 2)], False, False),
        ([(1,)], [], False, False),
        ([], [], True, True),
        ([(1, "a")], [("a", 1)], False, True),  # columns may be permuted
        ([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], False, True),  # rows are a bag
        ([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], True, False),  # unless the gold orders
        ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),  # multiplicities count
        ([(1,), (2,)], [(1,), (2,), (2,)], False, False),
        ([(1, 2)], [(1, 2, 3)], False, False),
        ([(1,)], [(1.0,)], False, True),  # Python equality: 1 == 1.0
        ([(None,)], [(None,)], False, True),
        ([("1",)], [(1,)], False, False),
        ([(1, 2), (3, 4)], [(2, 1), (4, 3)], True, True),  # a column permutation applies to all rows
        ([(1, 2), (3, 4)], [(2, 1), (3, 4)], False, False),  # ... the same one for every row
        # The reference canonicalises rows by sorting values on str(value)+type name before matching
        # columns; with 1 vs 1.0 that ordering differs and it reports a difference. Agreement beats purity.
        ([(1, 1.5)], [(1.0, 1.5)], False, False),
    ],
)
def test_cases(gold, pred, order, expected) -> None:
    assert same_result(gold, pred, order) is expected


def _random_table(rng: random.Random, rows: int, cols: int) -> list[tuple]:
    pool = [None, 0, 1, 2, 3, "a", "b", "c", 1.5, 2.5]
    return [tuple(rng.choice(pool) for _ in range(cols)) for _ in range(rows)]


@pytest.mark.parametrize("seed", range(40))
def test_permutations_and_perturbations(seed: int) -> None:
    rng = random.Random(seed)
    cols = rng.randint(1, 6)
    gold = _random_table(rng, rng.randint(1, 12), cols)
    perm = list(range(cols))
    rng.shuffle(perm)
    permuted = [tuple(r[i] for i in perm) for r in gold]
    assert same_result(gold, permuted, order_matters=True)
    shuffled = permuted[:]
    rng.shuffle(shuffled)
    assert same_result(gold, shuffled, order_matters=False)
    # ordered comparison by its definition: some column permutation makes the row lists equal
    brute = any([tuple(r[i] for i in p) for r in shuffled] == gold for p in itertools.permutations(range(cols)))
    assert same_result(gold, shuffled, order_matters=True) is brute
    # unordered comparison by its definition too, on a copy with two rows' values swapped in one column
    swapped = [list(r) for r in shuffled]
    a, b, c = rng.randrange(len(swapped)), rng.randrange(len(swapped)), rng.randrange(cols)
    swapped[a][c], swapped[b][c] = swapped[b][c], swapped[a][c]
    rows = [tuple(r) for r in swapped]
    bag = any(Counter(tuple(r[i] for i in p) for r in rows) == Counter(gold)
              for p in itertools.permutations(range(cols)))
    assert same_result(gold, rows, order_matters=False) is bag
    changed = [list(r) for r in permuted]
    changed[rng.randrange(len(changed))][rng.randrange(cols)] = "never-seen"
    assert not same_result(gold, [tuple(r) for r in changed], order_matters=False)
    assert not same_result(gold, permuted[:-1], order_matters=False)


def test_wide_results_use_pruned_permutations() -> None:
    # 8 columns: 40,320 permutations if nothing were pruned; still must find the one that fits.
    gold = [tuple(range(i, i + 8)) for i in range(0, 200, 8)]
    perm = [3, 1, 7, 0, 6, 2, 5, 4]
    pred = [tuple(r[i] for i in perm) for r in gold]
    assert same_result(gold, pred, order_matters=True)
    pred[5] = (*pred[5][:-1], -1)
    assert not same_result(gold, pred, order_matters=True)


def test_wide_results_with_repeated_columns_are_compared_without_trying_every_order() -> None:
    # 14 columns, nine of them all NULL: 9! orders of those alone if every permutation were tried
    gold = [(i, None, i % 3, None, None, "x", None, None, None, i % 3, None, None, None, "y") for i in range(30)]
    perm = list(range(14))
    random.Random(1).shuffle(perm)
    pred = [tuple(r[i] for i in perm) for r in gold]
    assert same_result(gold, pred, order_matters=True)
    assert same_result(gold, list(reversed(pred)), order_matters=False)
    assert not same_result(gold, list(reversed(pred)), order_matters=True)
    pred[3] = tuple("z" if v == "y" else v for v in pred[3])
    assert not same_result(gold, pred, order_matters=False)


def test_order_matters_is_decided_like_the_reference() -> None:
    assert gold_order_matters("SELECT a FROM t ORDER BY a")
    assert gold_order_matters("select a from t where b in (select b from u order by b limit 1)")
    assert not gold_order_matters("SELECT a FROM t")
    assert not gold_order_matters("SELECT a FROM t ORDER  BY a")  # the reference looks for 'order by' verbatim
