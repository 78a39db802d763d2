"""The Spider evaluator's parts, with the official semantics: what ``eval`` scores with and what synthesis
and serving tag hardness with.

- ``tokenizer`` and ``parser``: the official SQL tokenizer and parser (``parse_spider_sql``, ``SpiderSchema``);
- ``hardness``: easy / medium / hard / extra as ``eval_hardness`` computes it;
- ``exact_match``: exact-set match and its partial scores;
- ``execution``: the official processing of both queries before execution, the executor, and the EX (and
  test-suite) verdict of one prediction, on SQLite files or on any open ``Database``;
- ``report_table``: the per-hardness aggregation and the official printout.
"""
