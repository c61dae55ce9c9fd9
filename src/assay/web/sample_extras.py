"""What the sample page adds to the stored rows: which perturbation each request asked, a word
diff against the original input, the truncation mark, and HumanEval's programs and sandbox
results."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.metrics.code import programs
from assay.requests import TRUNCATED_FINISH_REASONS

CONTEXT_WORDS = 12  # unchanged words kept on each side of a change
_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass
class Piece:
    kind: str  # same | ins | del | gap
    text: str


def perturbation_labels(spec: dict[str, Any] | None, n_requests: int) -> list[str | None]:
    """Per request: None for a plain run, else `original` or the perturbation that wrote it (a
    perturbed run asks the original requests, then the same requests per perturbation)."""
    prompt = (spec or {}).get("prompt") or {}
    configs = [p for p in prompt.get("perturbations") or [] if isinstance(p, dict)]
    if not configs or n_requests % (len(configs) + 1):
        return [None] * n_requests
    per = n_requests // (len(configs) + 1)
    names = ["original"] + [_label(c) for c in configs]
    return [names[i // per] for i in range(n_requests)]


def _label(config: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in config.items() if k != "name")
    return f"{config.get('name')}({params})" if params else str(config.get("name"))


def request_text(request: dict[str, Any] | None) -> str:
    request = request or {}
    messages = request.get("messages")
    if messages:
        return "\n\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    return str(request.get("prompt") or "")


def word_diff(original: str, changed: str) -> list[Piece]:
    """Word-level differences, long unchanged stretches cut to their context."""
    a, b = _TOKENS.findall(original), _TOKENS.findall(changed)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in _merged(matcher.get_opcodes(), a):
        if op == "equal":
            words = a[i1:i2]
            keep = CONTEXT_WORDS * 2  # tokens alternate word / space
            if len(words) > 2 * keep + 2:
                head = "".join(words[:keep]) if pieces else ""
                tail = "".join(words[-keep:]) if i2 < len(a) or j2 < len(b) else ""
                if head:
                    pieces.append(Piece("same", head))
                pieces.append(Piece("gap", f"… {len(words[keep:-keep]) // 2} words …"))
                if tail:
                    pieces.append(Piece("same", tail))
            else:
                pieces.append(Piece("same", "".join(words)))
            continue
        if i2 > i1:
            pieces.append(Piece("del", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(Piece("ins", "".join(b[j1:j2])))
    return pieces


Opcode = tuple[str, int, int, int, int]


def _merged(opcodes: Sequence[Opcode], a: list[str]) -> list[Opcode]:
    """Changes separated only by whitespace become one change (`The Cat` -> `the cat`)."""
    out: list[Opcode] = []
    for op in opcodes:
        if (
            len(out) >= 2
            and op[0] != "equal"
            and out[-2][0] != "equal"
            and out[-1][0] == "equal"
            and not "".join(a[out[-1][1] : out[-1][2]]).strip()
        ):
            first, _ = out[-2], out.pop()
            out[-1] = ("replace", first[1], op[2], first[3], op[4])
        elif out and op[0] != "equal" and out[-1][0] != "equal":
            first = out[-1]
            out[-1] = ("replace", first[1], op[2], first[3], op[4])
        else:
            out.append(op)
    return out


def request_diffs(detail: dict[str, Any], labels: list[str | None]) -> list[list[Piece] | None]:
    """Per request: the diff of its input against the same request on the original input."""
    requests = detail.get("requests") or []
    originals = [i for i, label in enumerate(labels) if label == "original"]
    out: list[list[Piece] | None] = []
    for i, rq in enumerate(requests):
        label = labels[i] if i < len(labels) else None
        if label in (None, "original") or not originals:
            out.append(None)
            continue
        base = requests[originals[i % len(originals)]]
        out.append(word_diff(request_text(base.get("request")), request_text(rq.get("request"))))
    return out


def truncated(rq: dict[str, Any]) -> bool:
    return str((rq.get("response") or {}).get("finish_reason") or "") in TRUNCATED_FINISH_REASONS


def code_view(run: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any] | None:
    """For a code benchmark (its sample holds sandbox results or it scores pass@k): the
    programs, the test program and each program's sandbox result."""
    metadata = detail.get("metadata") or {}
    sandbox = metadata.get("sandbox")
    scored = any(str(name).startswith("pass@") for name in detail.get("scores") or {})
    if sandbox is None and not scored and run.get("benchmark_name") != "humaneval":
        return None
    progs = programs(detail.get("prediction"))
    results = sandbox if isinstance(sandbox, list) else []
    references = detail.get("references") or []
    return {
        "programs": [
            (p, results[i] if i < len(results) and isinstance(results[i], dict) else None)
            for i, p in enumerate(progs)
        ],
        "test": references[0] if references else "",
        "recorded": isinstance(sandbox, list),
    }
