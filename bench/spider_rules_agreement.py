"""Agreement of sqldistill's Spider parser, hardness and exact-set match with the official scripts.

The official scripts are not part of this repository. Point this harness at a folder holding them
(``process_sql.py`` and ``evaluation.py`` from taoyds/test-suite-sql-eval, with an ``exec_eval.py`` that
``evaluation.py`` can import, and optionally ``nltk_data/`` with the ``punkt_tab`` model) and run it with a
Python that has ``nltk``::

    PYTHONPATH=src python bench/spider_rules_agreement.py /path/to/official --spider ../shared/data/spider \\
        [--predictions dev_preds.sql ...] [--write-fixtures tests/data/spider_rules]

It checks, example by example: the ``sql`` field of dev_open.json, the parse and hardness of every gold query
(dev_open.json and train_gold.sql), EM and every partial score on real predictions (files aligned line by line
with the 1,034-line Spider dev set) and on perturbed gold queries, and the official per-level report table.
Without the official folder it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

from sqldistill.spider.exact_match import (
    PARTIAL_TYPES,
    build_foreign_key_maps,
    exact_match,
    prediction_from_line,
)
from sqldistill.spider.hardness import hardness_of
from sqldistill.spider.parser import (
    SpiderParseError,
    load_tables_json,
    parse_spider_sql,
    schema_from_sqlite,
    schema_from_tables_entry,
)
from sqldistill.spider.report_table import aggregate, format_table

# Spider dev (1,034 examples) is ordered by database; these are the blocks of the databases we have.
DEV_BLOCKS = {
    "employee_hire_evaluation": (259, 297), "cre_Doc_Template_Mgt": (297, 381), "course_teach": (381, 411),
    "student_transcripts_tracking": (507, 585), "poker_player": (647, 687), "voter_1": (687, 702),
    "network_1": (862, 918), "singer": (1000, 1030), "real_estate_properties": (1030, 1034),
}  # fmt: skip


def load_official(folder: Path) -> tuple[ModuleType, ModuleType] | None:
    if not (folder / "process_sql.py").is_file() or not (folder / "evaluation.py").is_file():
        print(f"skipped: no process_sql.py / evaluation.py in {folder}")
        return None
    if (folder / "nltk_data").is_dir():
        os.environ.setdefault("NLTK_DATA", str(folder / "nltk_data"))
    sys.path.insert(0, str(folder))
    try:
        process_sql = importlib.import_module("process_sql")
        evaluation = importlib.import_module("evaluation")
        process_sql.tokenize("SELECT 1. FROM t")  # fails early when nltk or its punkt model is missing
    except (ImportError, LookupError, AttributeError) as exc:
        print(f"skipped: the official scripts do not load here ({type(exc).__name__}: {exc})")
        return None
    return process_sql, evaluation


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


class Oracle:
    """The official scripts, called the way their evaluate() loop calls them for one example."""

    def __init__(self, process_sql: ModuleType, evaluation: ModuleType, spider: Path):
        self.ps, self.ev, self.spider = process_sql, evaluation, spider
        self.kmaps = evaluation.build_foreign_key_map_from_json(str(spider / "tables.json"))
        self._schemas: dict[str, Any] = {}

    def schema(self, db_id: str) -> Any:
        if db_id not in self._schemas:
            path = self.spider / "database" / db_id / f"{db_id}.sqlite"
            self._schemas[db_id] = self.ps.Schema(self.ps.get_schema(str(path)))
        return self._schemas[db_id]

    def parse(self, db_id: str, sql: str) -> Any:
        return self.ps.get_sql(self.schema(db_id), sql)

    def score(self, db_id: str, gold: str, pred: str) -> dict[str, Any]:
        schema, ev = self.schema(db_id), self.ev
        g_sql = self.parse(db_id, gold)
        level = ev.Evaluator().eval_hardness(g_sql)
        try:
            p_sql = self.parse(db_id, pred)
            parsed = True
        except Exception:
            p_sql, parsed = jsonable(_EMPTY), False
        try:
            kmap = self.kmaps[db_id]
            g_sql = ev.rebuild_sql_col(
                ev.build_valid_col_units(g_sql["from"]["table_units"], schema),
                ev.rebuild_sql_val(g_sql),
                kmap,
            )
            p_sql = ev.rebuild_sql_col(
                ev.build_valid_col_units(p_sql["from"]["table_units"], schema),
                ev.rebuild_sql_val(p_sql),
                kmap,
            )
            evaluator = ev.Evaluator()
            exact = int(evaluator.eval_exact_match(p_sql, g_sql))
        except Exception as exc:  # the official run would stop here
            return {"hardness": level, "crash": f"{type(exc).__name__}: {exc}", "parsed": parsed}
        return {"hardness": level, "exact": exact, "partial": evaluator.partial_scores, "parsed": parsed}


_EMPTY: dict[str, Any] = {
    "except": None, "from": {"conds": [], "table_units": []}, "groupBy": [], "having": [], "intersect": None,
    "limit": None, "orderBy": [], "select": [False, []], "union": None, "where": [],
}  # fmt: skip


def ours(
    spider: Path, fk_maps: dict[str, dict[str, str]], db_id: str, gold: str, pred: str, integer_limit: bool
) -> dict[str, Any]:
    schema = schema_from_sqlite(spider / "database" / db_id / f"{db_id}.sqlite")
    level = hardness_of(parse_spider_sql(gold, schema, integer_limit=integer_limit))
    exact, partial = exact_match(gold, pred, schema, fk_maps[db_id], integer_limit=integer_limit)
    return {"hardness": level, "exact": exact, "partial": partial}


# --- Predictions made from gold queries -----------------------------------------------------------------

_AGGS = ("count", "max", "min", "sum", "avg")
_OPS = ("=", ">", "<", ">=", "<=", "!=", "<>")
_NOISE = [
    "", "   ", "SELECT", "SELECT * FROM", "hello world", "SELECT count(*) FROM nonexistent_table", "select 1",
    "SELECT * FROM t WHERE", "'", '"', "SELECT a FROM b; DROP TABLE b", "T1.*", "; ;", "(", ")", "value",
]  # fmt: skip


_SOUP = (  # noqa: SIM905
    "select from where group by order having limit intersect union except join on as and or not in like between is"
    " exists distinct count max min sum avg none asc desc ( ) , ; * + - / = > < >= <= != ! . 1 2.5 'x' \"y z\" T1 T2"
).split()


def _columns(spider: Path, db_id: str) -> list[tuple[str, str]]:
    schema = schema_from_sqlite(spider / "database" / db_id / f"{db_id}.sqlite")
    return [(table, col) for table, cols in schema.columns.items() for col in cols]


def perturb(
    gold: str, rng: random.Random, same_db: list[str], columns: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(kind, prediction) pairs: realistic mistakes, formatting variants and garbage."""
    out: list[tuple[str, str]] = [("gold", gold), ("lower", gold.lower()), ("upper", gold.upper())]
    out.append(("other_gold", rng.choice(same_db)))
    words = gold.split()
    table, col = rng.choice(columns)
    soup = [*words, *_SOUP, table, col, f"T1.{col}", f"{table}.{col}", f"'{col}'"]
    edits = {
        "drop_where": re.sub(
            r"(?i)\s+WHERE\s.*?(?=\s+(GROUP|ORDER|LIMIT|INTERSECT|UNION|EXCEPT)\b|$)", "", gold
        ),
        "drop_order": re.sub(r"(?i)\s+ORDER\s+BY\s.*?(?=\s+(LIMIT|INTERSECT|UNION|EXCEPT)\b|$)", "", gold),
        "drop_limit": re.sub(r"(?i)\s+LIMIT\s+\S+", "", gold),
        "drop_group": re.sub(
            r"(?i)\s+GROUP\s+BY\s.*?(?=\s+(HAVING|ORDER|LIMIT|INTERSECT|UNION|EXCEPT)\b|$)", "", gold
        ),
        "add_distinct": re.sub(r"(?i)^SELECT\s+", "SELECT DISTINCT ", gold),
        "desc_asc": re.sub(r"(?i)\bDESC\b", "ASC", gold)
        if re.search(r"(?i)\bDESC\b", gold)
        else gold + " DESC",
        "agg_swap": re.sub(r"(?i)\b(count|max|min|sum|avg)\(", lambda m: rng.choice(_AGGS) + "(", gold),
        "op_swap": re.sub(r"(?<![<>!])(=|>=|<=|>|<|!=)(?![=>])", lambda m: rng.choice(_OPS), gold, count=1),
        "values_as_placeholder": re.sub(r"'[^']*'|\"[^\"]*\"|\b\d+(\.\d+)?\b", "value", gold),
        "limit_value": re.sub(r"(?i)LIMIT\s+\d+", "LIMIT value", gold),
        "column_swap": re.sub(rf"(?i)\b{re.escape(col)}\b", rng.choice(columns)[1], gold),
        "unknown_column": gold.replace(words[1], "no_such_col", 1) if len(words) > 1 else gold,
        "unknown_table": re.sub(r"(?i)FROM\s+(\w+)", "FROM no_such_table", gold, count=1),
        "alias_rename": re.sub(r"\bT([12])\b", r"alias\1", gold),
        "alias_same_as_table": re.sub(r"(?i)AS\s+T1\b", f"AS {table}", gold),
        "inner_join": re.sub(r"(?i)\bJOIN\b", "INNER JOIN", gold),
        "left_join": re.sub(r"(?i)\bJOIN\b", "LEFT JOIN", gold),
        "comma_join": re.sub(r"(?i)\s+JOIN\s+", " , ", gold),
        "no_on": re.sub(r"(?i)\s+ON\s+\S+\s*=\s*\S+", "", gold),
        "ne_ltgt": gold.replace("!=", "<>"),
        "spaced_ops": gold.replace(">=", "> =").replace("<=", "< =").replace("!=", "! ="),
        "not_in": re.sub(r"(?i)\bIN\b", "NOT IN", gold, count=1),
        "double_quotes": gold.replace("'", '"'),
        "spaced_string": re.sub(r"'([^']*)'", r"'  \1 x '", gold),
        "odd_quote": gold + " '",
        "semicolon": gold + " ;",
        "two_statements": f"{gold}; {rng.choice(same_db)}",
        "union_other": f"{gold} UNION {rng.choice(same_db)}",
        "intersect_other": f"{gold} INTERSECT {rng.choice(same_db)}",
        "except_self": f"{gold} EXCEPT {gold}",
        "nested_in": f"SELECT {col} FROM {table} WHERE {col} IN ({rng.choice(same_db)})",
        "nested_cmp": f"SELECT {col} FROM {table} WHERE {col} > (SELECT avg({col}) FROM {table})",
        "from_subquery": f"SELECT count(*) FROM ({gold})",
        "from_subquery_alias": f"SELECT count(*) FROM ({gold}) AS sub",
        "arith": f"SELECT {col} + {col} , {col} * 2 FROM {table}",
        "between": f"SELECT {col} FROM {table} WHERE {col} BETWEEN 1 AND 10",
        "like": f"SELECT {col} FROM {table} WHERE {col} LIKE '%a b%'",
        "star_qualified": re.sub(r"(?i)SELECT\s+\S+", "SELECT T1.*", gold, count=1),
        "count_distinct": f"SELECT count(DISTINCT {col}) FROM {table}",
        "is_null": f"SELECT {col} FROM {table} WHERE {col} IS NULL",
        "period_space": gold.replace(".", ". ", 1),
        "number_period": re.sub(r"\b(\d+)\b", r"\1.", gold, count=1),
        "no_commas": gold.replace(" ,", "").replace(",", " "),
        "truncated": gold[: rng.randint(0, max(0, len(gold) - 1))],
        "token_shuffle": " ".join(rng.sample(words, len(words))),
        "token_drop": " ".join(w for w in words if rng.random() > 0.2),
        "token_dup": " ".join(w for w in words for _ in range(2 if rng.random() < 0.15 else 1)),
        "noise": rng.choice(_NOISE),
        "value_word": f"{gold} value ",
        "tabbed": f"{gold}\textra",
        "leading_space": f"  {gold}  ",
        "token_soup": " ".join(rng.choice(soup) for _ in range(rng.randint(1, 25))),
        "gold_with_soup": " ".join(w if rng.random() > 0.15 else rng.choice(soup) for w in words),
    }
    out.extend(edits.items())
    return out


# --- Checks ---------------------------------------------------------------------------------------------


def check_dev_sql_field(oracle: Oracle, spider: Path) -> None:
    tables = load_tables_json(spider / "tables.json")
    dev = json.loads((spider / "dev_open.json").read_text())
    ours_ok = sum(
        jsonable(parse_spider_sql(x["query"], schema_from_tables_entry(tables[x["db_id"]], integer_ids=True)))
        == x["sql"]
        for x in dev
    )
    print(f"dev_open.json sql field: ours {ours_ok}/{len(dev)} identical")


def gold_queries(spider: Path) -> list[tuple[str, str, str]]:
    dev = json.loads((spider / "dev_open.json").read_text())
    items = [("dev", x["query"], x["db_id"]) for x in dev]
    for line in (spider / "train_gold.sql").read_text().splitlines():
        query, db_id = line.split("\t")
        items.append(("train", query, db_id))
    return items


def check_golds(oracle: Oracle, spider: Path, integer_limit: bool = False) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    labels = []
    for source, query, db_id in gold_queries(spider):
        if not (spider / "database" / db_id).is_dir():
            counts[f"{source} skipped (no database)"] += 1
            continue
        schema = schema_from_sqlite(spider / "database" / db_id / f"{db_id}.sqlite")
        try:
            theirs = oracle.parse(db_id, query)
        except Exception:
            theirs = None
        try:
            mine: Any = parse_spider_sql(query, schema, integer_limit=integer_limit)
        except SpiderParseError:
            mine = None
        counts[f"{source} parse agree"] += (theirs is None) == (mine is None) and (
            theirs is None or jsonable(theirs) == jsonable(mine)
        )
        counts[f"{source} total"] += 1
        if theirs is None:
            counts[
                f"{source} unparseable (both)" if mine is None else f"{source} unparseable (oracle only)"
            ] += 1
            continue
        level = oracle.ev.Evaluator().eval_hardness(theirs)
        counts[f"{source} hardness agree"] += mine is not None and hardness_of(mine) == level
        labels.append({"source": source, "db_id": db_id, "query": query, "hardness": level})
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    return labels


def compare_pairs(
    oracle: Oracle, spider: Path, pairs: list[dict[str, Any]], integer_limit: bool = False
) -> list[dict[str, Any]]:
    fk_maps = build_foreign_key_maps(spider / "tables.json")
    counts: Counter[str] = Counter()
    shown = 0
    cases = []
    for pair in pairs:
        pred = prediction_from_line(pair["pred"])
        theirs = oracle.score(pair["db_id"], pair["gold"], pred)
        mine = ours(spider, fk_maps, pair["db_id"], pair["gold"], pred, integer_limit)
        group = pair["kind"] if pair["kind"].startswith("real") else pair["kind"].split(":")[0]
        counts[f"{group} total"] += 1
        if "crash" in theirs:
            counts[f"{group} oracle crashed (not compared)"] += 1
            continue
        same = theirs["hardness"] == mine["hardness"] and theirs["exact"] == mine["exact"]
        same = same and jsonable(theirs["partial"]) == jsonable(mine["partial"])
        counts[f"{group} agree"] += same
        counts[f"{group} exact=1"] += theirs["exact"]
        counts[f"{group} unparseable"] += not theirs["parsed"]
        if not same and shown < 10:
            shown += 1
            print("DISAGREE", pair, "\n  oracle", theirs, "\n  ours  ", mine)
        cases.append(
            {**pair, "hardness": theirs["hardness"], "exact": theirs["exact"], "partial": theirs["partial"]}
        )
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    return cases


def official_report(oracle: Oracle, cases: list[dict[str, Any]]) -> str:
    """The table the official evaluate() prints for these cases (``--etype match``)."""
    with tempfile.TemporaryDirectory() as tmp:
        gold_file, pred_file = Path(tmp) / "gold.sql", Path(tmp) / "pred.sql"
        gold_file.write_text("".join(f"{c['gold']}\t{c['db_id']}\n" for c in cases))
        pred_file.write_text("".join(f"{c['pred']}\n" for c in cases))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            oracle.ev.evaluate(
                str(gold_file), str(pred_file), str(oracle.spider / "database"), "match", oracle.kmaps,
                False, False, False,
            )  # fmt: skip
    lines = printed.getvalue().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(" " * 21 + "easy"))
    return "".join(lines[start:])


def reportable(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The official reader splits sessions on blank lines: only one-line, non-blank predictions keep alignment.
    return [c for c in cases if c["pred"].strip() and "\n" not in c["pred"] and "\r" not in c["pred"]]


def check_report_table(oracle: Oracle, cases: list[dict[str, Any]]) -> None:
    usable = reportable(cases)
    theirs = official_report(oracle, usable)
    examples = [{"hardness": c["hardness"], "exact": c["exact"], "partial": c["partial"]} for c in usable]
    mine = format_table(aggregate(examples), "match")
    print(f"report table over {len(usable)} examples: {'identical' if theirs == mine else 'DIFFERENT'}")
    if theirs != mine:
        print(theirs, mine, sep="\n---\n")


def real_prediction_pairs(spider: Path, files: list[Path]) -> list[dict[str, Any]]:
    """Pairs from published prediction files: either aligned line by line with the 1,034-line Spider dev
    set, or one ``prediction<TAB>db_id`` line per example (any subset of dev, in dev order)."""
    dev = json.loads((spider / "dev_open.json").read_text())
    by_db: dict[str, list[str]] = {}
    for x in dev:
        by_db.setdefault(x["db_id"], []).append(x["query"])
    pairs = []
    for path in files:
        lines = path.read_text().split("\n")
        tagged = [line for line in lines if "\t" in line and line.rsplit("\t", 1)[1] in DEV_BLOCKS]
        for db_id, (start, stop) in DEV_BLOCKS.items():
            preds = (
                [line for line in tagged if line.rsplit("\t", 1)[1] == db_id] if tagged else lines[start:stop]
            )
            for gold, line in zip(by_db[db_id], preds, strict=True):
                pairs.append({"kind": f"real:{path.stem}", "db_id": db_id, "gold": gold, "pred": line})
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "official", type=Path, help="folder with the official process_sql.py and evaluation.py"
    )
    parser.add_argument(
        "--spider", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/spider"
    )
    parser.add_argument(
        "--predictions", type=Path, nargs="*", default=[], help="files aligned with Spider dev"
    )
    parser.add_argument("--golds-for-perturbation", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--write-fixtures", type=Path, help="folder to write oracle-labelled test fixtures to"
    )
    parser.add_argument("--fixture-size", type=int, default=400)
    parser.add_argument(
        "--integer-limit", action="store_true", help="the official folder holds taoyds/spider's process_sql.py"
    )
    args = parser.parse_args()
    loaded = load_official(args.official)
    if loaded is None:
        return 0
    oracle = Oracle(*loaded, args.spider)
    started = time.perf_counter()
    check_dev_sql_field(oracle, args.spider)
    print("gold queries (parse and hardness):")
    labels = check_golds(oracle, args.spider, args.integer_limit)

    rng = random.Random(args.seed)
    golds = [x for x in labels if x["source"] == "dev"]
    golds += rng.sample([x for x in labels if x["source"] == "train"], args.golds_for_perturbation)
    same_db: dict[str, list[str]] = {}
    for x in labels:
        same_db.setdefault(x["db_id"], []).append(x["query"])
    pairs = real_prediction_pairs(args.spider, args.predictions)
    for x in golds:
        columns = _columns(args.spider, x["db_id"])
        for kind, pred in perturb(x["query"], rng, same_db[x["db_id"]], columns):
            pairs.append({"kind": f"perturbed:{kind}", "db_id": x["db_id"], "gold": x["query"], "pred": pred})
    print(f"EM and partial scores on {len(pairs)} (gold, prediction) pairs:")
    cases = compare_pairs(oracle, args.spider, pairs, args.integer_limit)
    check_report_table(oracle, cases)
    print(f"done in {time.perf_counter() - started:.1f} s")
    if args.write_fixtures:
        write_fixtures(args.write_fixtures, oracle, labels, cases, args.fixture_size, rng)
    return 0


def write_fixtures(
    folder: Path,
    oracle: Oracle,
    labels: list[dict[str, Any]],
    cases: list[dict[str, Any]],
    size: int,
    rng: random.Random,
) -> None:
    """Oracle-labelled fixtures for the unit tests (facts about the official scripts' output, no code)."""
    spider = oracle.spider
    folder.mkdir(parents=True, exist_ok=True)
    # Hardness of every gold query, one letter per query in file order ('-': no database or unparseable).
    letters: dict[str, list[str]] = {"dev": [], "train": []}
    letter = {"easy": "e", "medium": "m", "hard": "h", "extra": "x"}
    labelled = {(x["source"], x["db_id"], x["query"]): letter[x["hardness"]] for x in labels}
    for source, query, db_id in gold_queries(spider):
        letters[source].append(labelled.get((source, db_id, query), "-"))
    hardness: dict[str, Any] = {"letters": {v: k for k, v in letter.items()}}
    hardness.update({source: "".join(chars) for source, chars in letters.items()})
    (folder / "hardness_labels.json").write_text(json.dumps(hardness, indent=1) + "\n")

    # EM cases: a few of every kind first, so that rare quirks stay covered, then random ones. Databases are
    # limited to the dev ones plus a dozen train ones to keep the fixture small.
    train_dbs = sorted({c["db_id"] for c in cases} - set(DEV_BLOCKS))[:12]
    usable = [c for c in cases if c["db_id"] in DEV_BLOCKS or c["db_id"] in train_dbs]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for case in usable:
        by_kind.setdefault(case["kind"], []).append(case)
    picked: list[dict[str, Any]] = []
    for kind, group in by_kind.items():
        picked += rng.sample(group, min(30 if kind.startswith("real") else 4, len(group)))
    rest = [c for c in usable if c not in picked]
    picked += rng.sample(rest, max(0, min(len(rest), size - len(picked))))

    # Parses of varied predictions (None where the official parser fails), with name ids.
    parse_cases = []
    for case in rng.sample(usable, min(len(usable), 200)):
        sql = prediction_from_line(case["pred"])
        try:
            parsed = jsonable(oracle.parse(case["db_id"], sql))
        except Exception:
            parsed = None
        parse_cases.append({"db_id": case["db_id"], "sql": sql, "parsed": parsed})

    def jsonl(rows: list[dict[str, Any]]) -> str:
        return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)

    em_rows = [
        {
            **{key: case[key] for key in ("kind", "db_id", "gold", "pred", "hardness", "exact")},
            "partial": [[case["partial"][k][f] for f in _SCORE_FIELDS] for k in PARTIAL_TYPES],
        }
        for case in picked
    ]
    (folder / "em_cases.jsonl").write_text(jsonl(em_rows))
    (folder / "em_report.txt").write_text(official_report(oracle, reportable(picked)))
    (folder / "parse_cases.jsonl").write_text(jsonl(parse_cases))
    fk_maps = build_foreign_key_maps(spider / "tables.json")
    schemas = {}
    for db in sorted({c["db_id"] for c in picked + parse_cases}):
        columns = schema_from_sqlite(spider / "database" / db / f"{db}.sqlite").columns
        schemas[db] = {"columns": {t: list(c) for t, c in columns.items()}, "fk_map": fk_maps[db]}
    (folder / "schemas.jsonl").write_text(jsonl([{"db_id": db, **value} for db, value in schemas.items()]))
    print(
        f"wrote hardness letters for {len(labels)} gold queries, {len(picked)} EM cases, "
        f"{len(parse_cases)} parse cases and {len(schemas)} schemas to {folder}"
    )


_SCORE_FIELDS = ("acc", "rec", "f1", "label_total", "pred_total")


if __name__ == "__main__":
    raise SystemExit(main())
