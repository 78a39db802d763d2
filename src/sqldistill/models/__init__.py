"""Models: named from-scratch sizes, building and loading transformers models and tokenizers, and the model
directory that training hands to inference (``modeldir``).

- ``sizes``: ``SIZES``, ``parse_size``, ``is_named_size``, ``pointer_size``, ``is_pointer_model`` (no torch needed);
- ``causal``: ``new_model``, ``train_tokenizer``, ``load_model``, ``load_tokenizer``, ``count_parameters``, ...;
- ``modeldir``: ``save_model_dir``, ``read_model_meta`` and the directory's contract;
- ``seq2seq``: the pointer student (frozen sentence encoder, schema linking, pointer decoder under a grammar)
  and its committed base network.
"""
