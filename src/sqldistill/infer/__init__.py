"""Inference: turning a question into SQL with a trained model.

- ``backend``: ``SqlGenerator``, the one interface a model offers (encode a question; greedy, beam or sampled
  candidates with their scores; parameter count; continuous decoding when it can), and ``Candidate``;
- ``causal``: a transformers causal LM as an ``SqlGenerator``; ``fastdecode`` and ``continuous``: its fast
  greedy path and continuous (speculative) batching;
- ``retrieval``: the model's memory of its training pairs; ``select``: the retrieval vote and
  execution-guided selection, the same for every model;
- ``predictor``: ``Predictor.load(model_dir)`` -> ``.generate(...)`` / ``.predict(...)`` / ``.stream(...)``.

Import from the modules (``from sqldistill.infer.predictor import Predictor``): the package itself loads
nothing, so importing it stays cheap.
"""

