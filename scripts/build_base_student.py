"""Build the pointer student's base network from the public Spider training corpus.

Trains on train.json's human questions and their Spider-Syn variants (``question_syn``) over the training
databases, leaving out the databases listed in ``tune_dbs.txt`` (they are held out for tuning), and writes
the network to ``src/sqldistill/models/seq2seq/base/`` (or ``--out``). The committed base is built in two stages
(its README): the human pairs from scratch, then ``--init`` that network and add ``--synth-per-db`` synthetic
pairs. Run from the repository root::

    nice -n 10 python scripts/build_base_student.py --spider ../shared/data/spider --out /tmp/base-first
    nice -n 10 python scripts/build_base_student.py --spider ../shared/data/spider --init /tmp/base-first \
        --epochs 2 --lr 5e-4 --synth-per-db 400 --synth-cache /tmp/base-synth

Spider 1.0 (Yu et al., 2018) is CC BY-SA 4.0; Spider-Syn (Gan et al., 2021) is MIT.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def add_synthetic(by_db: dict[str, list[tuple[str, str]]], spider: Path, n: int, seed: int,
                  cache: Path | None) -> None:
    """Add ``n`` synthetic pairs (the default synthesis, from the database alone) to every database's pairs."""
    import tempfile

    from sqldistill.synth import SynthOptions, synthesize
    from sqldistill.train.pointer import read_pairs

    started, added = time.perf_counter(), 0
    for i, db_id in enumerate(sorted(by_db)):
        out = (cache / db_id) if cache else Path(tempfile.mkdtemp(prefix=f"base-synth-{db_id}-"))
        if not (out / "train.jsonl").is_file():
            try:
                synthesize(spider / "database" / db_id / f"{db_id}.sqlite", out,
                           SynthOptions(n=n, seed=seed, valid_fraction=0.0, progress=False))
            except Exception as exc:  # a database synthesis cannot use adds nothing
                print(f"{db_id}: no synthetic pairs ({type(exc).__name__}: {exc})", flush=True)
                continue
        pairs = read_pairs(out / "train.jsonl")
        by_db[db_id] += pairs
        added += len(pairs)
        if (i + 1) % 10 == 0:
            print(f"synthesized {i + 1}/{len(by_db)} databases, {added} pairs "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
    print(f"{added} synthetic pairs over {len(by_db)} databases", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", default=str(ROOT.parent / "shared" / "data" / "spider"))
    parser.add_argument("--out", default=str(ROOT / "src" / "sqldistill" / "models" / "seq2seq" / "base"))
    parser.add_argument("--size", default="small", choices=("small", "large"))
    parser.add_argument("--epochs", type=float, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit-dbs", type=int, default=0, help="use only the first N databases (a quick run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synth-per-db", type=int, default=0,
                        help="also train on this many synthetic pairs per training database (sqldistill synth)")
    parser.add_argument("--synth-cache", default="", help="keep each database's synthetic pairs here")
    parser.add_argument("--init", default="", help="start from this pointer network instead of from scratch")
    args = parser.parse_args()

    import torch

    from sqldistill.db import connect, reflect
    from sqldistill.models.seq2seq.features import SchemaFeatures, TextEncoder
    from sqldistill.models.seq2seq.network import PointerConfig, PointerSeq2Seq
    from sqldistill.models.seq2seq.values import database_values, value_index
    from sqldistill.train.pointer import encode_pairs, fit

    torch.set_num_threads(args.threads)
    spider = Path(args.spider)
    tune = set((spider / "tune_dbs.txt").read_text().split())
    rows = [r for r in json.loads((spider / "train.json").read_text()) if r["db_id"] not in tune]
    by_db: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        pairs = by_db.setdefault(r["db_id"], [])
        pairs.append((r["question"], r["query"]))
        if r.get("question_syn") and r["question_syn"] != r["question"]:
            pairs.append((r["question_syn"], r["query"]))
    dbs = sorted(by_db)[: args.limit_dbs or None]
    by_db = {db_id: by_db[db_id] for db_id in dbs}
    if args.synth_per_db:
        add_synthetic(by_db, spider, args.synth_per_db, args.seed, Path(args.synth_cache) if args.synth_cache else None)
    encoder = TextEncoder.load()
    started = time.perf_counter()

    examples, skipped = [], 0
    for db_id in dbs:
        with connect(str(spider / "database" / db_id / f"{db_id}.sqlite")) as db:
            schema = reflect(db)
            values = database_values(db, schema)
        features = SchemaFeatures.build(schema, encoder)
        got, miss = encode_pairs(by_db[db_id], features, value_index(values), encoder, half=True)
        encoder._questions.clear()  # states are kept (in half precision) by the examples themselves
        examples += got
        skipped += miss
    print(f"{len(dbs)} databases, {len(examples)} examples, {skipped} outside the language "
          f"({time.perf_counter() - started:.0f}s to encode)", flush=True)
    model = (PointerSeq2Seq.load(args.init) if args.init
             else PointerSeq2Seq(PointerConfig.named(args.size, encoder.dim)))
    print(f"trainable parameters: {model.num_trainable():,}", flush=True)
    stats = fit(model, examples, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                log=lambda m: print(m, flush=True))
    corpus = "Spider train (human + Spider-Syn questions), tune databases excluded"
    if args.synth_per_db:
        corpus += f"; plus {args.synth_per_db} synthetic pairs per database (sqldistill synth, seed {args.seed})"
    stats.update({"databases": len(dbs), "skipped": skipped, "encoder": "all-MiniLM-L6-v2", "corpus": corpus,
                  "init": args.init or None})
    model.save(args.out, {"training": stats})
    print(f"saved to {args.out}: {json.dumps(stats)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
