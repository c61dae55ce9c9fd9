"""Turn a model string into a `Model`: built-in providers, entry points and user files."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from assay.checks import SEED_MAX, check_range, is_host
from assay.errors import UserError
from assay.models.base import RUNTIME_SETTINGS, Model, ModelSpec


@dataclass(frozen=True)
class Provider:
    name: str
    target: str  # "module:attribute", imported only when used
    extra: str | None
    summary: str
    example: str
    modules: tuple[str, ...] = ()  # what it imports only when it first calls the model


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in [
        Provider(
            "mock",
            "assay.models.mock:create_mock",
            None,
            "deterministic test models: oracle, constant, random, flaky",
            "mock/oracle, mock/constant?text=A, mock/random?seed=1, mock/flaky?fail_rate=0.2",
        ),
        Provider(
            "openai-compatible",
            "assay.models.openai_compatible:OpenAICompatibleModel",
            None,
            "any OpenAI-compatible server (llama.cpp, vLLM, Ollama, TGI) via the openai SDK",
            "openai-compatible/<name>@http://127.0.0.1:8080/v1",
            ("openai",),
        ),
        Provider(
            "hf",
            "assay.models.transformers_hf:TransformersModel",
            "hf",
            "Hugging Face transformers (CPU or GPU), batched; GGUF files via gguf_file=",
            "hf/smollm2, hf/HuggingFaceTB/SmolLM2-135M-Instruct, hf/./dir?gguf_file=m.gguf",
            ("torch", "transformers", "accelerate", "gguf"),
        ),
        Provider(
            "llamacpp",
            "assay.models.llamacpp:LlamaCppModel",
            "llamacpp",
            "GGUF models in-process via llama-cpp-python; `smollm2` is the embedded default",
            "llamacpp/smollm2, llamacpp/path/to/model.gguf",
            ("llama_cpp",),
        ),
        Provider(
            "openai",
            "assay.models.openai_api:OpenAIModel",
            None,
            "OpenAI's API via the openai SDK; key from OPENAI_API_KEY",
            "openai/gpt-4o-mini, openai/o4-mini?reasoning_effort=low",
            ("openai",),
        ),
        Provider(
            "anthropic",
            "assay.models.anthropic_api:AnthropicModel",
            "anthropic",
            "Anthropic's Messages API via the anthropic SDK; key from ANTHROPIC_API_KEY",
            "anthropic/claude-sonnet-4-5, anthropic/claude-haiku-4-5?thinking_budget=2048",
            ("anthropic",),
        ),
        Provider(
            "google",
            "assay.models.google_api:GoogleModel",
            "google",
            "Google Gemini via the google-genai SDK; key from GEMINI_API_KEY or GOOGLE_API_KEY",
            "google/gemini-2.5-flash",
            ("google.genai",),
        ),
        Provider(
            "ollama",
            "assay.models.ollama_api:OllamaModel",
            "ollama",
            "a local Ollama server's native API via the ollama SDK (default 127.0.0.1:11434)",
            "ollama/llama3.2, ollama/qwen3:0.6b@http://gpu-box:11434?num_ctx=8192",
            ("ollama",),
        ),
    ]
}


def parse_model_spec(text: str) -> ModelSpec:
    """Parse `provider/name[@base_url][?k=v&k=v]`."""
    original = text
    settings: dict[str, str] = {}
    if "?" in text:
        text, query = text.rsplit("?", 1)
        for part in filter(None, query.split("&")):
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise UserError(
                    f"model {original!r}: setting {part!r} is not key=value "
                    "(write e.g. mock/random?seed=1)"
                )
            settings[key] = value
    provider, sep, rest = text.partition("/")
    if not sep or not provider or not rest:
        raise UserError(
            f"model {original!r} is not provider/name: write e.g. llamacpp/smollm2 or "
            "openai-compatible/<name>@http://127.0.0.1:8080/v1 (see `assay models`)"
        )
    base_url = None
    if "@" in rest:
        rest, base_url = rest.split("@", 1)
        check_base_url(original, base_url)
    for key in settings.keys() & SETTING_BOUNDS.keys():  # whether or not a provider reads it
        _check_number(f"model {original!r}: setting {key}", settings[key], SETTING_BOUNDS[key])
    return ModelSpec(provider=provider, name=rest, base_url=base_url, settings=settings)


def _check_number(what: str, raw: str, bounds: dict[str, float]) -> None:
    try:
        value = int(raw) if raw.strip().lstrip("+-").isdigit() else float(raw)
    except ValueError:
        raise UserError(f"{what}={raw!r} must be a number") from None
    check_range(what, value, **bounds)


def check_base_url(model: str, url: str) -> None:
    """A server address that could be connected to: http(s), a well-formed host, a port in
    1..65535. Found here, it is one line before any work, not a failed request per sample."""
    if not url.startswith(("http://", "https://")):
        raise UserError(f"model {model!r}: base URL {url!r} must start with http:// or https://")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. brackets around something that is not an IPv6 address
        raise UserError(f"model {model!r}: base URL {url!r} is malformed: {exc}") from None
    try:
        port = parts.port
    except ValueError:
        raise UserError(
            f"model {model!r}: base URL {url!r} has an impossible port: use a number from 1 "
            "to 65535, e.g. http://127.0.0.1:8080/v1"
        ) from None
    if port == 0:
        raise UserError(f"model {model!r}: base URL {url!r}: port 0 is not a server's port")
    host = parts.hostname or ""
    if not host:
        raise UserError(
            f"model {model!r}: base URL {url!r} has no host: write e.g. http://127.0.0.1:8080/v1"
        )
    if not is_host(host):
        raise UserError(
            f"model {model!r}: base URL {url!r}: {host!r} is not a host name or address "
            "(letters, digits, '-', '.'), e.g. 127.0.0.1 or gpu-box"
        )


def create_model(text: str) -> Model:
    """Build the model for a model string, or raise `UserError` saying what to write instead."""
    if ".py:" in text and "/" not in text.split(".py:")[1]:
        return _model_from_file(text)
    spec = parse_model_spec(text)
    factory = _provider_factory(spec.provider)
    model = factory(spec)
    if not isinstance(model, Model):
        raise UserError(f"model {text!r}: provider {spec.provider!r} did not build a Model")
    return model


def _provider_factory(provider: str) -> Callable[[ModelSpec], Any]:
    if provider in PROVIDERS:
        info = PROVIDERS[provider]
        module_name, attr = info.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f"pip install 'assay[{info.extra}]'" if info.extra else "reinstall assay"
            raise UserError(
                f"provider {provider!r} needs a package that is not installed ({exc.name}): {hint}"
            ) from exc
        missing = [m for m in info.modules if not _importable(m)]
        if missing:
            absent = f"{', '.join(missing)} is not installed"
            raise UserError(
                f"provider {provider!r} needs the {info.extra!r} extra ({absent}): "
                f"pip install 'assay[{info.extra}]'"
                if info.extra
                else f"provider {provider!r} needs {absent}: reinstall assay"
            )
        factory: Callable[[ModelSpec], Any] = getattr(module, attr)
        return factory
    for ep in entry_points(group="assay.models"):
        if ep.name == provider:
            loaded: Callable[[ModelSpec], Any] = ep.load()
            return loaded
    known = ", ".join(sorted(PROVIDERS))
    raise UserError(
        f"unknown model provider {provider!r}: use one of {known}, a plugin registered under the "
        "'assay.models' entry point, or path/to/module.py:ClassName (see `assay models`)"
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package (google for google.genai)
        return False


def _model_from_file(text: str) -> Model:
    from assay.plugins import load_from_file

    path, _, rest = text.partition(":")
    name, _, query = rest.partition("?")
    cls = load_from_file(Path(path), name, what="model")
    spec_text = f"custom/{name}" + (f"?{query}" if query else "")
    spec = parse_model_spec(spec_text)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise UserError(f"{path}:{name} is not a subclass of assay.Model")
    return cls(spec)


T = TypeVar("T", int, float, str, bool)

# Numeric settings with a range (any other number need only be finite).
SETTING_BOUNDS: dict[str, dict[str, float]] = {
    "timeout": {"above": 0},
    "concurrency": {"at_least": 1},
    "max_concurrency": {"at_least": 1},
    "threads": {"at_least": 1},
    "batch_size": {"at_least": 1},
    "n_ctx": {"at_least": 1},
    "num_ctx": {"at_least": 0},
    "latency": {"at_least": 0},
    "fail_rate": {"at_least": 0, "at_most": 1},
    "transient_rate": {"at_least": 0, "at_most": 1},
    "seed": {"at_least": -(2**63), "at_most": SEED_MAX},
}


def setting(spec: ModelSpec, key: str, default: T) -> T:
    """Read one typed setting, with a clear error for a value of the wrong type."""
    raw = spec.settings.get(key)
    if raw is None:
        return default
    kind = type(default)
    try:
        if kind is bool:
            if raw.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"true", "1", "yes"}  # type: ignore[return-value,unused-ignore]
        value = kind(raw)
    except ValueError:
        raise UserError(
            f"model {spec.provider}/{spec.name}: setting {key}={raw!r} must be a {kind.__name__}"
        ) from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bounds = SETTING_BOUNDS.get(key, {})
        check_range(f"model {spec.provider}/{spec.name}: setting {key}", value, **bounds)
    return value


def check_settings(spec: ModelSpec, allowed: set[str]) -> None:
    unknown = set(spec.settings) - allowed - RUNTIME_SETTINGS
    if unknown:
        valid = ", ".join(sorted(allowed | RUNTIME_SETTINGS))
        raise UserError(
            f"model {spec.provider}/{spec.name}: unknown setting(s) {', '.join(sorted(unknown))}; "
            f"valid settings: {valid}"
        )
