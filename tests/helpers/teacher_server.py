"""A tiny local teacher model built on the fly, served over a real OpenAI-compatible HTTP server on loopback.

``build_tiny_teacher(dir, answer)`` trains a byte-level BPE tokenizer with ``tokenizers`` and a 2-layer Llama
from a random init until it writes ``answer`` after any prompt that ends the way chat prompts end here
(``### Assistant:``). No hub download: everything is made from a config and a few strings.

``TeacherServer(model_dir)`` serves ``POST /v1/chat/completions`` (and ``GET /v1/models``) from a thread
with the standard library's HTTP server, generating with the model for every request it gets. It counts
requests and the most requests in flight at once, can refuse requests without the right API key, and can
fail the next N requests with HTTP 503 to exercise retries.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ANSWER = "Question: How many singers are there?\nSQL: SELECT count(*) FROM singer"
PROMPT_TAIL = 16  # tokens of the prompt the tiny model sees: enough for the "### Assistant:" cue


def render(messages: list[dict[str, str]]) -> str:
    """The plain chat format (the one sqldistill's local teacher uses for a tokenizer without a template)."""
    parts = [f"### {m['role'].capitalize()}:\n{m['content']}" for m in messages]
    return "\n\n".join([*parts, "### Assistant:\n"])


def build_tiny_teacher(out: Path, answer: str = ANSWER, contexts: list[str] | None = None, steps: int = 300) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    # A tiny model gains nothing from threads, and on a busy 2-core machine they make it crawl.
    torch.set_num_threads(1)
    contexts = contexts or [
        "Write one sqlite query that answers the question below.\n\nQuestion: How old is the oldest singer?",
        "Rewrite the question below the way another person might type it.\n\nQuestion: List singer names.",
        "Write 5 new question/SQL pairs about this database, different from the ones above.",
        "Write the question a person would ask whose answer is exactly the result of this query.",
        "CREATE TABLE singer (Singer_ID INT, Name TEXT, Citizenship TEXT);\nQuestion: count songs",
    ]
    # Many different endings before the cue teach the model to answer whatever the question was.
    rng = random.Random(0)
    words = ["how", "many", "what", "which", "list", "show", "singers", "songs", "name", "age", "SQL:", "Question:", "?", ".", "the", "of", "count", "(", ")", "*", "FROM"]
    contexts += [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(40)]
    texts = [render([{"role": "system", "content": "You write SQL."}, {"role": "user", "content": c}])
             for c in contexts]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([*texts, answer] * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")
    config = LlamaConfig(vocab_size=fast.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, bos_token_id=None,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    answer_ids = fast(answer, add_special_tokens=False)["input_ids"] + [fast.eos_token_id]
    rows = []
    for text in texts:
        ids = fast(text, add_special_tokens=False)["input_ids"][-PROMPT_TAIL:]
        rows.append((ids, answer_ids))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        ids, ans = rows[step % len(rows)]
        seq = torch.tensor([ids + ans])
        labels = seq.clone()
        labels[0, : len(ids)] = -100
        loss = model(input_ids=seq, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


class TeacherServer:
    """OpenAI-compatible chat completions over HTTP on 127.0.0.1, answering with a local model."""

    def __init__(self, model_dir: Path, api_key: str | None = None, model_name: str = "tiny-teacher") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        self.torch = torch
        self.api_key = api_key
        self.model_name = model_name
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_next = 0
        self.ignore_n = False
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._gen_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> TeacherServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def generate(self, messages: list[dict[str, str]], n: int, temperature: float, max_tokens: int,
                 seed: int) -> tuple[list[str], int, int]:
        torch = self.torch
        ids = self.tok(render(messages), add_special_tokens=False, return_tensors="pt")["input_ids"][:, -PROMPT_TAIL:]
        with self._gen_lock, torch.no_grad():
            torch.manual_seed(seed)
            sample = temperature > 0
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                      max_new_tokens=min(max_tokens, 48), do_sample=sample,
                                      temperature=temperature if sample else None, top_k=None, top_p=None,
                                      num_return_sequences=n, pad_token_id=self.tok.pad_token_id)
        new = out[:, ids.shape[1]:]
        texts = [self.tok.decode(row, skip_special_tokens=True) for row in new]
        return texts, int(ids.shape[1]), int(new.numel())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model_name, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    fail = server.fail_next > 0
                    if fail:
                        server.fail_next -= 1
                try:
                    status, answer = self._answer(body, fail)
                finally:
                    # A request stops counting as in flight before its response is written: once the client
                    # has read it, it may send its next request at once, and that one must not find this one
                    # still counted (that would measure the test's thread scheduling, not the client's limit).
                    with server._lock:
                        server.in_flight -= 1
                self._send(status, answer)

            def _answer(self, body: dict[str, Any], fail: bool) -> tuple[int, dict[str, Any]]:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return 404, {"error": {"message": "not found"}}
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return 401, {"error": {"message": "invalid api key"}}
                if fail:
                    return 503, {"error": {"message": "overloaded, try again"}}
                if server.delay_s:
                    time.sleep(server.delay_s)
                n = 1 if server.ignore_n else int(body.get("n") or 1)
                texts, prompt_tokens, completion_tokens = server.generate(
                    body["messages"], n, float(body.get("temperature") or 0.0),
                    int(body.get("max_tokens") or 64), int(body.get("seed") or 0))
                return 200, {
                    "id": f"chatcmpl-{server.requests}", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": i, "message": {"role": "assistant", "content": t},
                                 "finish_reason": "stop"} for i, t in enumerate(texts)],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                              "total_tokens": prompt_tokens + completion_tokens},
                }

        return Handler


__all__ = ["ANSWER", "TeacherServer", "build_tiny_teacher", "render"]
