"""Spider exact-set match (EM) and its partial scores, as the official evaluators compute them.

Both official scripts (taoyds/spider and taoyds/test-suite-sql-eval ``evaluation.py``) agree on EM. Their
recipe, reproduced here as pure functions over the structure of :mod:`sqldistill.spider.parser`:

1. parse gold and prediction against the SQLite schema; a prediction that does not parse becomes the
   empty SQL (:func:`empty_sql`) and is still scored component by component;
2. drop values (``DISABLE_VALUE``): condition values become ``None`` unless they are sub-queries, which
   lose their own values in turn; FROM sub-queries are left untouched;
3. canonicalise columns (``DISABLE_DISTINCT`` and foreign keys): every column of a table in the top-level
   FROM that belongs to a foreign-key group is renamed to the group's first column, and DISTINCT flags are
   dropped, in SELECT, FROM conditions, WHERE, GROUP BY, ORDER BY, HAVING and the set-operation queries,
   but not inside sub-queries used as values, and not for columns used as condition values;
4. compare component by component (:func:`partial_scores`); EM is 1 when every component's f1 is 1 and
   the sorted FROM table units are equal.

Where the official script would crash on a prediction (a malformed condition list it cannot unpack,
unhashable or unorderable pieces), we score that prediction as the empty SQL instead.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, TypedDict

from sqldistill.spider.parser import (
    WHERE_OPS,
    SpiderParseError,
    SpiderSchema,
    SqlDict,
    load_tables_json,
    parse_spider_sql,
)

__all__ = [
    "PARTIAL_TYPES",
    "PartialScore",
    "build_foreign_key_map",
    "build_foreign_key_maps",
    "canonical_columns",
    "empty_sql",
    "exact_match",
    "exact_set_match",
    "partial_scores",
    "plug_value_placeholder",
    "prediction_from_line",
    "prepare_for_match",
    "valid_col_units",
    "without_values",
]

PARTIAL_TYPES = (
    "select", "select(no AGG)", "where", "where(no OP)", "group(no Having)",
    "group", "order", "and/or", "IUEN", "keywords",
)  # fmt: skip


class PartialScore(TypedDict):
    acc: int
    rec: int
    f1: int
    label_total: int
    pred_total: int


def plug_value_placeholder(prediction: str) -> str:
    """The official test-suite evaluator's first rewrite of a prediction: every occurrence of the lower-case
    text ``value`` becomes ``1`` (``p_str.replace("value", "1")`` in its ``evaluation.py``), for models trained
    on value-free SQL that write the word where a literal goes. It is a plain substring replace: ``"value"``
    and ``'value'`` become ``"1"`` and ``'1'``, a name that contains it (``item_value``, ``values``) is
    rewritten too, and ``VALUE`` in upper case is left alone. EX and EM both see the rewritten text."""
    return prediction.replace("value", "1")


def prediction_from_line(line: str) -> str:
    """What the official script parses from one line of a predictions file: the line stripped, cut at the
    first tab, with :func:`plug_value_placeholder` applied. An empty line yields ``""`` (scored as wrong)."""
    return plug_value_placeholder(line.strip().split("\t")[0])


def empty_sql() -> SqlDict:
    """The structure an unparseable prediction is scored as."""
    return {
        "except": None, "from": {"conds": [], "table_units": []}, "groupBy": [], "having": [],
        "intersect": None, "limit": None, "orderBy": [], "select": [False, []], "union": None, "where": [],
    }  # fmt: skip


# --- Foreign keys and value removal ---------------------------------------------------------------------


def build_foreign_key_map(entry: Mapping[str, Any]) -> dict[str, str]:
    """``{'__table.column__': '__table.column__'}`` sending each column of a foreign-key group to the group's
    lowest-numbered column. Groups are grown as upstream does: a key pair joins the first group that holds
    either key, so two existing groups are never merged."""
    tables = entry["table_names_original"]
    names = [
        f"__{tables[t].lower()}.{c.lower()}__" if t >= 0 else "__all__"
        for t, c in entry["column_names_original"]
    ]
    groups: list[set[int]] = []
    for key1, key2 in entry["foreign_keys"]:
        group = next((g for g in groups if key1 in g or key2 in g), None)
        if group is None:
            group = set()
            groups.append(group)
        group.update((key1, key2))
    mapping: dict[str, str] = {}
    for group in groups:
        ordered = sorted(group)
        for index in ordered:
            mapping[names[index]] = names[ordered[0]]
    return mapping


def build_foreign_key_maps(tables_json: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """:func:`build_foreign_key_map` for every database of a tables.json file, keyed by ``db_id``."""
    return {db_id: build_foreign_key_map(entry) for db_id, entry in load_tables_json(tables_json).items()}


def valid_col_units(table_units: Sequence[Any], schema: SpiderSchema) -> list[Hashable]:
    """Column ids of the tables named in a FROM clause (sub-queries contribute nothing): the only columns
    that foreign-key canonicalisation may rename."""
    prefixes = [str(unit[1])[:-2] for unit in table_units if unit[0] == "table_unit"]
    return [
        v for v in schema.ids.values() if isinstance(v, str) and "." in v and v[: v.index(".")] in prefixes
    ]


def _condition_without_values(condition: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for index, item in enumerate(condition):
        if index % 2:
            out.append(item)
            continue
        not_op, op_id, val_unit, val1, val2 = item  # a connector here breaks the unpacking, as upstream
        out.append((
            not_op, op_id, val_unit,
            without_values(val1) if type(val1) is dict else None,
            without_values(val2) if type(val2) is dict else None,
        ))  # fmt: skip
    return out


def without_values(sql: SqlDict) -> SqlDict:
    """``DISABLE_VALUE``: condition values dropped, recursively through value sub-queries and set operations."""
    out = dict(sql)
    out["from"] = {**sql["from"], "conds": _condition_without_values(sql["from"]["conds"])}
    out["having"] = _condition_without_values(sql["having"])
    out["where"] = _condition_without_values(sql["where"])
    for op in ("intersect", "except", "union"):
        out[op] = None if sql[op] is None else without_values(sql[op])
    return out


def _col_unit(unit: Any, valid: list[Hashable], fk_map: Mapping[str, str]) -> Any:
    if unit is None:
        return None
    agg_id, col_id, _distinct = unit
    if col_id in fk_map and col_id in valid:
        col_id = fk_map[col_id]
    return (agg_id, col_id, None)


def _val_unit(unit: Any, valid: list[Hashable], fk_map: Mapping[str, str]) -> Any:
    unit_op, unit1, unit2 = unit
    return (unit_op, _col_unit(unit1, valid, fk_map), _col_unit(unit2, valid, fk_map))


def _condition_columns(
    condition: Sequence[Any], valid: list[Hashable], fk_map: Mapping[str, str]
) -> list[Any]:
    out: list[Any] = []
    for index, item in enumerate(condition):
        if index % 2:
            out.append(item)
        else:
            not_op, op_id, val_unit, val1, val2 = item
            out.append((not_op, op_id, _val_unit(val_unit, valid, fk_map), val1, val2))
    return out


def canonical_columns(sql: SqlDict, valid: list[Hashable], fk_map: Mapping[str, str]) -> SqlDict:
    """``DISABLE_DISTINCT`` plus foreign-key renaming (see the module docstring for where it applies)."""
    out = dict(sql)
    out["select"] = (None, [(agg, _val_unit(unit, valid, fk_map)) for agg, unit in sql["select"][1]])
    out["from"] = {**sql["from"], "conds": _condition_columns(sql["from"]["conds"], valid, fk_map)}
    out["where"] = _condition_columns(sql["where"], valid, fk_map)
    out["groupBy"] = [_col_unit(unit, valid, fk_map) for unit in sql["groupBy"]]
    if sql["orderBy"]:
        direction, units = sql["orderBy"]
        out["orderBy"] = (direction, [_val_unit(unit, valid, fk_map) for unit in units])
    out["having"] = _condition_columns(sql["having"], valid, fk_map)
    for op in ("intersect", "except", "union"):
        out[op] = None if sql[op] is None else canonical_columns(sql[op], valid, fk_map)
    return out


def prepare_for_match(sql: SqlDict, schema: SpiderSchema, fk_map: Mapping[str, str]) -> SqlDict:
    """A parsed query as EM compares it: values dropped, then columns canonicalised."""
    valid = valid_col_units(sql["from"]["table_units"], schema)
    return canonical_columns(without_values(sql), valid, fk_map)


# --- Component comparison -------------------------------------------------------------------------------


def _score(count: int, pred_total: int, label_total: int) -> PartialScore:
    # All or nothing: a component scores 1 only when both sides have the same number of items, all matched.
    hit = int(pred_total == label_total and count == pred_total)
    return {"acc": hit, "rec": hit, "f1": hit, "label_total": label_total, "pred_total": pred_total}


def _matched(pred_items: Iterable[Any], gold_items: Iterable[Any]) -> int:
    """How many predicted items find a not-yet-used equal gold item."""
    remaining = list(gold_items)
    count = 0
    for item in pred_items:
        if item in remaining:
            count += 1
            remaining.remove(item)
    return count


def _keywords(sql: SqlDict) -> set[str]:
    found = {
        name for key, name in (("where", "where"), ("groupBy", "group"), ("having", "having")) if sql[key]
    }
    if sql["orderBy"]:
        found.update((sql["orderBy"][0], "order"))
    found.update(op for op in ("limit", "except", "union", "intersect") if sql[op] is not None)
    connectors = [*sql["from"]["conds"][1::2], *sql["where"][1::2], *sql["having"][1::2]]
    if "or" in connectors:
        found.add("or")
    conds = [*sql["from"]["conds"][::2], *sql["where"][::2], *sql["having"][::2]]
    if any(cond[0] for cond in conds):
        found.add("not")
    found.update(op for op in ("in", "like") if any(cond[1] == WHERE_OPS.index(op) for cond in conds))
    return found


def _group_column_name(col_id: Any) -> Any:
    # Upstream compares GROUP BY columns by the part after the first '.', ignoring the table.
    return col_id.split(".")[1] if "." in col_id else col_id


def partial_scores(pred: SqlDict, gold: SqlDict) -> dict[str, PartialScore]:
    """The ten official component scores of two prepared queries (see :func:`prepare_for_match`)."""
    res: dict[str, PartialScore] = {}
    pred_sel, gold_sel = pred["select"][1], gold["select"][1]
    res["select"] = _score(_matched(pred_sel, gold_sel), len(pred_sel), len(gold_sel))
    no_agg = _matched((u[1] for u in pred_sel), (u[1] for u in gold_sel))
    res["select(no AGG)"] = _score(no_agg, len(pred_sel), len(gold_sel))

    pred_conds, gold_conds = pred["where"][::2], gold["where"][::2]
    res["where"] = _score(_matched(pred_conds, gold_conds), len(pred_conds), len(gold_conds))
    no_op = _matched((u[2] for u in pred_conds), (u[2] for u in gold_conds))
    res["where(no OP)"] = _score(no_op, len(pred_conds), len(gold_conds))

    pred_group = [unit[1] for unit in pred["groupBy"]]
    gold_group = [unit[1] for unit in gold["groupBy"]]
    group_names = _matched(map(_group_column_name, pred_group), map(_group_column_name, gold_group))
    res["group(no Having)"] = _score(group_names, len(pred_group), len(gold_group))
    pred_has, gold_has = int(bool(pred_group)), int(bool(gold_group))
    same_group = pred_has == gold_has == 1 and pred_group == gold_group and pred["having"] == gold["having"]
    res["group"] = _score(int(same_group), pred_has, gold_has)

    pred_has, gold_has = int(len(pred["orderBy"]) > 0), int(len(gold["orderBy"]) > 0)
    same_limit = (pred["limit"] is None) == (gold["limit"] is None)
    res["order"] = _score(
        int(bool(gold_has) and pred["orderBy"] == gold["orderBy"] and same_limit), pred_has, gold_has
    )

    pred_ao, gold_ao = set(pred["where"][1::2]), set(gold["where"][1::2])
    # Upstream returns its two totals swapped here; kept, since reports print them.
    res["and/or"] = _score(1, 1, 1) if pred_ao == gold_ao else _score(0, len(gold_ao), len(pred_ao))

    count = label_total = pred_total = 0
    for op in ("intersect", "except", "union"):
        pred_total += pred[op] is not None
        label_total += gold[op] is not None
        if pred[op] is not None and gold[op] is not None:
            count += exact_set_match(pred[op], gold[op])
    res["IUEN"] = _score(count, pred_total, label_total)

    pred_kw, gold_kw = _keywords(pred), _keywords(gold)
    res["keywords"] = _score(len(pred_kw & gold_kw), len(pred_kw), len(gold_kw))
    return res


def _exact_and_partial(pred: SqlDict, gold: SqlDict) -> tuple[int, dict[str, PartialScore]]:
    scores = partial_scores(pred, gold)
    if any(score["f1"] != 1 for score in scores.values()):
        return 0, scores
    if gold["from"]["table_units"]:
        return int(sorted(gold["from"]["table_units"]) == sorted(pred["from"]["table_units"])), scores
    return 1, scores


def exact_set_match(pred: SqlDict, gold: SqlDict) -> int:
    """1 when two prepared queries match exactly as sets of components, else 0."""
    return _exact_and_partial(pred, gold)[0]


def exact_match(
    gold_sql: str, pred_sql: str, schema: SpiderSchema, fk_map: Mapping[str, str], *, integer_limit: bool = False
) -> tuple[int, dict[str, PartialScore]]:
    """EM of one prediction and its partial scores, as the official evaluator reports them.

    ``pred_sql`` is used as given: apply :func:`plug_value_placeholder` first to mirror the official script.
    ``integer_limit`` follows taoyds/spider instead of test-suite-sql-eval: a prediction whose LIMIT is not
    an integer literal then fails to parse. Raises :class:`SpiderParseError` when the gold query does not
    parse (upstream crashes there).
    """
    gold = prepare_for_match(parse_spider_sql(gold_sql, schema, integer_limit=integer_limit), schema, fk_map)
    try:
        pred = prepare_for_match(parse_spider_sql(pred_sql, schema, integer_limit=integer_limit), schema, fk_map)
        return _exact_and_partial(pred, gold)
    except (SpiderParseError, ValueError, TypeError):
        # Unparseable, or a parse upstream would crash on while scoring it: the empty SQL.
        return _exact_and_partial(prepare_for_match(empty_sql(), schema, fk_map), gold)
