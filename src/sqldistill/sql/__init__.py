"""SQL helpers that need no database: parsing, the read-only allowlist, skeletons and templates, the spoken
names of tables and columns (``names``, for synthesis and schema features), and the string checks
execution-guided selection weighs: literals grounded in the question (``grounding``) and the database values
it names (``values``). Spider's own parser and hardness live in ``sqldistill.spider``."""
