"""Rebuild this excerpt of Spider from the full data: ``python tests/data/spider/make_excerpt.py SPIDER_DIR``.

Copies the databases the tests open, their ``tables.json`` entries, every row of ``dev_open.json`` reduced to
``db_id``, ``query`` and ``sql`` (the tests index rows by position, and none reads a question), and the whole
``train_gold.sql`` query log (SQL only). See README.md here for the sources and their licenses.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# the nine databases of dev_open.json, then the training databases single tests open
DATABASES = (
    "course_teach", "cre_Doc_Template_Mgt", "employee_hire_evaluation", "network_1", "poker_player",
    "real_estate_properties", "singer", "student_transcripts_tracking", "voter_1",
    "allergy_1", "club_1", "college_3", "department_management", "perpetrator",
)
DEV_FIELDS = ("db_id", "query", "sql")


def main(spider: Path) -> None:
    for db_id in DATABASES:
        dst = HERE / "database" / db_id / f"{db_id}.sqlite"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spider / "database" / db_id / f"{db_id}.sqlite", dst)
    tables = [t for t in json.loads((spider / "tables.json").read_text()) if t["db_id"] in DATABASES]
    (HERE / "tables.json").write_text(json.dumps(tables, indent=1) + "\n")
    dev = json.loads((spider / "dev_open.json").read_text())
    rows = [json.dumps({k: row[k] for k in DEV_FIELDS}, ensure_ascii=False) for row in dev]
    (HERE / "dev_open.json").write_text("[\n" + ",\n".join(rows) + "\n]\n")
    shutil.copyfile(spider / "train_gold.sql", HERE / "train_gold.sql")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "data" / "spider")
