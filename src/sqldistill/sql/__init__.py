"""SQL helpers that need no database: parsing, the read-only allowlist, skeletons and templates, grounding in
the question, the spoken names of tables and columns (``names``), and the cues and repairs execution-guided
selection weighs (``cues``, ``edits``). Spider's own parser and hardness live in ``sqldistill.spider``."""
