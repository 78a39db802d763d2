"""Teacher clients: any OpenAI-compatible chat endpoint, or a local transformers model.

Both answer ``chat(messages, n, temperature, max_tokens, seed) -> list[str]`` and share:

- an on-disk cache keyed by the request (model, messages, sampling parameters; not the URL or the key),
  so a rerun makes no request at all and gives the same answers;
- token and cost accounting in ``usage`` (requests, cache hits, retries, failures, tokens, cost);
- ``chat_many`` for a batch of requests under a concurrency limit, answers in request order.

The HTTP client retries on connection errors, timeouts, 408/409/429 and 5xx with exponential backoff
(honouring ``Retry-After``), reads the API key from an environment variable named by the caller, and turns
every final failure into a ``TeacherError`` that says what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.errors import ConfigError, TeacherError
from sqldistill.jsonfiles import write_json_atomic

if TYPE_CHECKING:
    from sqldistill.records import Schema

Message = dict[str, str]
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass
class Usage:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def to_dict(self) -> dict[str, Any]:
        names = ("requests", "cache_hits", "retries", "failures", "prompt_tokens", "completion_tokens")
        return {**{n: getattr(self, n) for n in names}, "cost": round(float(self.cost), 6)}


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None

    @classmethod
    def of(cls, messages: Sequence[Message], n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
           seed: int | None = None) -> ChatRequest:
        return cls(tuple((m["role"], m["content"]) for m in messages), n, temperature, max_tokens, seed)

    def payload(self, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "n": self.n,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        return body


class DiskCache:
    """JSON files under ``root``, one per request, written atomically. ``root=None`` keeps nothing."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root is not None else None

    @staticmethod
    def key(payload: dict[str, Any]) -> str:
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.root is None else self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is a miss, never a crash
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        if path is None:
            return
        write_json_atomic(path, value, indent=None)


class Teacher:
    """Base of the clients: caching, accounting and batching around ``_complete``."""

    name = "teacher"

    def __init__(self, model: str, cache_dir: str | os.PathLike[str] | None = None, concurrency: int = 4,
                 temperature: float = 0.8) -> None:
        self.model = model
        self.temperature = temperature  # for the sampled tasks: paraphrases, new pairs, votes
        self.cache = DiskCache(cache_dir)
        self.concurrency = max(1, concurrency)
        self.usage = Usage()
        self._slots = threading.BoundedSemaphore(self.concurrency)

    def _complete(self, req: ChatRequest) -> tuple[list[str], int, int]:
        """Answers plus prompt and completion token counts; raises TeacherError."""
        raise NotImplementedError

    def request(self, req: ChatRequest) -> list[str]:
        payload = req.payload(self.model)
        key = self.cache.key(payload)
        hit = self.cache.get(key)
        if hit is not None and isinstance(hit.get("choices"), list):
            self.usage.add(cache_hits=1)
            return [str(c) for c in hit["choices"]]
        with self._slots:
            choices, prompt_tokens, completion_tokens = self._complete(req)
        self.cache.put(key, {"request": payload, "choices": choices,
                             "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})
        return choices

    def chat(self, messages: Sequence[Message], n: int = 1, temperature: float = 0.0, max_tokens: int = 512,
             seed: int | None = None) -> list[str]:
        return self.request(ChatRequest.of(messages, n, temperature, max_tokens, seed))

    def chat_many(self, requests: Sequence[ChatRequest]) -> list[list[str] | TeacherError]:
        """Answer a batch under the concurrency limit; a failed request gives its TeacherError in place."""

        def one(req: ChatRequest) -> list[str] | TeacherError:
            try:
                return self.request(req)
            except TeacherError as err:
                return err

        if self.concurrency == 1 or len(requests) <= 1:
            return [one(r) for r in requests]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, requests))

    def sql_for_question(self, question: str, schema: Schema | None, n: int = 1) -> list[str]:
        """``n`` SQL answers for ``question`` (the teacher critics' vote and round trip ask this)."""
        from sqldistill.synth.tasks import sql_for_question

        return sql_for_question(self, question, schema, n)

    def question_for_sql(self, sql: str, schema: Schema | None) -> str:
        """The question ``sql`` answers, in the teacher's words."""
        from sqldistill.synth.tasks import question_for_sql

        return question_for_sql(self, sql, schema)

    def close(self) -> None:
        pass


class OpenAITeacher(Teacher):
    """Chat completions over HTTP from any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, TGI, ...)."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 cache_dir: str | os.PathLike[str] | None = None, concurrency: int = 4, max_retries: int = 4,
                 backoff_s: float = 1.0, timeout_s: float = 120.0, price_per_1k_input: float = 0.0,
                 price_per_1k_output: float = 0.0, temperature: float = 0.8) -> None:
        super().__init__(model, cache_dir, concurrency, temperature)
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"Teacher URL {base_url!r} is not an http(s) URL",
                              hint="Pass e.g. https://api.openai.com/v1 or http://localhost:8000/v1")
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.price_in, self.price_out = price_per_1k_input, price_per_1k_output
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _http(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import httpx

                headers = {"Content-Type": "application/json"}
                key = os.environ.get(self.api_key_env or "", "") if self.api_key_env else ""
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                self._client = httpx.Client(timeout=self.timeout_s, headers=headers,
                                            limits=httpx.Limits(max_connections=self.concurrency * 2))
            return self._client

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = self.backoff_s * (2**attempt) * (1 + 0.25 * random.random())
            try:
                self.usage.add(requests=1)
                resp = self._http().post(url, json=body)
            except httpx.HTTPError as err:
                last = f"{type(err).__name__}: {err}"
            else:
                if resp.status_code == 200:
                    try:
                        data = resp.json()
                    except ValueError:
                        last = "the answer is not JSON"
                    else:
                        if isinstance(data, dict) and isinstance(data.get("choices"), list):
                            return data
                        last = "the answer has no 'choices'"
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                    after = resp.headers.get("retry-after", "")
                    if after.replace(".", "", 1).isdigit():
                        wait = min(float(after), 60.0)
                else:
                    self.usage.add(failures=1)
                    raise TeacherError(*self._explain(resp.status_code, resp.text))
            if attempt < self.max_retries:
                self.usage.add(retries=1)
                time.sleep(wait)
        self.usage.add(failures=1)
        raise TeacherError(f"The teacher at {self.base_url} failed after {self.max_retries + 1} tries ({last})",
                           hint="Check that the server is up, or lower --teacher-concurrency")

    def _explain(self, status: int, text: str) -> tuple[str, str]:
        detail = " ".join(text.split())[:200]
        if status in (401, 403):
            env = self.api_key_env or "an API key variable"
            return (f"The teacher at {self.base_url} refused the request (HTTP {status}: {detail})",
                    f"Set ${env} to a valid API key")
        if status == 404:
            return (f"The teacher at {self.base_url} has no chat completions endpoint or no model "
                    f"{self.model!r} (HTTP 404)", "Check the base URL (it usually ends in /v1) and the model name")
        return f"The teacher at {self.base_url} rejected the request (HTTP {status}: {detail})", \
            "Check the model name and the request limits of the server"

    def _complete(self, req: ChatRequest) -> tuple[list[str], int, int]:
        data = self._post(req.payload(self.model))
        choices = [str((c.get("message") or {}).get("content") or c.get("text") or "") for c in data["choices"]]
        usage = data.get("usage") or {}
        prompt_tokens, completion_tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        extra = 0
        while len(choices) < req.n:  # servers that ignore n answer once per request
            extra += 1
            more = req.payload(self.model)
            more["n"] = 1
            more["seed"] = (req.seed or 0) + extra
            data = self._post(more)
            choices += [str((c.get("message") or {}).get("content") or "") for c in data["choices"]]
            usage = data.get("usage") or {}
            prompt_tokens += int(usage.get("prompt_tokens") or 0)
            completion_tokens += int(usage.get("completion_tokens") or 0)
        cost = (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1000
        self.usage.add(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost)
        return choices[: req.n], prompt_tokens, completion_tokens

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class LocalTeacher(Teacher):
    """A transformers causal LM from a local directory, generating on this machine (one call at a time)."""

    name = "local"

    def __init__(self, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
                 device: str | None = None, temperature: float = 0.8) -> None:
        p = Path(path)
        if not (p / "config.json").is_file():
            raise ConfigError(f"{p} is not a transformers model directory (no config.json)",
                              hint="Pass a folder written by save_pretrained, or an http(s) URL")
        from sqldistill._extras import MODEL_RUNTIME, require_extra

        require_extra("train", "a local teacher model", MODEL_RUNTIME)
        super().__init__(model=p.name, cache_dir=cache_dir, concurrency=1, temperature=temperature)
        self.path = p
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            try:
                tok = AutoTokenizer.from_pretrained(self.path)
                model = AutoModelForCausalLM.from_pretrained(self.path)
            except (OSError, ValueError) as err:
                raise TeacherError(f"Could not load the teacher model at {self.path}: {err}",
                                   hint="Check that the folder holds a causal LM and its tokenizer") from None
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model = model.to(device)  # type: ignore[arg-type]
            self._loaded = (tok, model.eval())
        return self._loaded

    @staticmethod
    def render(tok: Any, messages: Sequence[tuple[str, str]]) -> str:
        chat = [{"role": r, "content": c} for r, c in messages]
        if getattr(tok, "chat_template", None):
            return str(tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
        parts = [f"### {r.capitalize()}:\n{c}" for r, c in messages]
        return "\n\n".join([*parts, "### Assistant:\n"])

    def _complete(self, req: ChatRequest) -> tuple[list[str], int, int]:
        import torch

        with self._lock:
            tok, model = self._load()
            self.usage.add(requests=1)
            text = self.render(tok, req.messages)
            ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
            context = int(getattr(model.config, "max_position_embeddings", 4096) or 4096)
            new_tokens = max(1, min(req.max_tokens, context // 2))
            ids = ids[:, -(context - new_tokens):].to(model.device)  # the end of a long prompt matters most
            torch.manual_seed(req.seed if req.seed is not None else 0)
            sample = req.temperature > 0
            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            with torch.no_grad():
                out = model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                    do_sample=sample, temperature=req.temperature if sample else None, top_p=None, top_k=None,
                    num_return_sequences=req.n, pad_token_id=pad,
                )
            new = out[:, ids.shape[1]:]
            answers = [str(tok.decode(row, skip_special_tokens=True)) for row in new]
            completion = int(sum(int((row != pad).sum()) for row in new)) if pad is not None else int(new.numel())
            self.usage.add(prompt_tokens=int(ids.shape[1]), completion_tokens=completion)
            return answers, int(ids.shape[1]), completion


def make_teacher(spec: str, model: str | None = None, api_key_env: str | None = "OPENAI_API_KEY",
                 cache_dir: str | os.PathLike[str] | None = None, concurrency: int = 4, **options: Any) -> Teacher:
    """``spec`` is an http(s) base URL (then ``model`` names the model) or a local model directory."""
    text = str(spec).strip()
    if text.startswith(("http://", "https://")):
        if not model:
            raise ConfigError("A teacher URL needs a model name", hint="Pass --teacher-model NAME")
        return OpenAITeacher(text, model, api_key_env=api_key_env, cache_dir=cache_dir, concurrency=concurrency,
                             **options)
    path = Path(text).expanduser()
    if path.is_dir():
        return LocalTeacher(path, cache_dir=cache_dir, **{k: v for k, v in options.items() if k in ("device",
                                                                                                   "temperature")})
    raise ConfigError(f"Teacher {text!r} is neither an http(s) URL nor a model directory",
                      hint="Pass e.g. --teacher http://localhost:8000/v1 --teacher-model NAME, or a folder")


__all__ = ["ChatRequest", "DiskCache", "LocalTeacher", "OpenAITeacher", "Teacher", "Usage", "make_teacher"]
