"""API keys and extra HTTP headers for remote providers.

Keys come only from environment variables: each provider reads its usual variable
(`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`...) or the one named by
`?api_key_env=NAME`. A user who keeps keys in a file points `ASSAY_KEYS_FILE` at it (lines of
`NAME=value`); the environment wins over the file. A key never appears in a model string, so it
never reaches the model label, the store, a log line or an error message.

Extra headers: `?header_X-Foo=bar` sends `X-Foo: bar`; `?header_X-Token=env:NAME` reads the value
from a variable (required for headers that look like credentials, which a literal would leak into
the model label).
"""

from __future__ import annotations

import os
from pathlib import Path

from assay.errors import UserError
from assay.models.base import ModelSpec
from assay.models.registry import setting

KEYS_FILE_ENV = "ASSAY_KEYS_FILE"
HEADER_PREFIX = "header_"
_INLINE_KEY_SETTINGS = {"api_key", "key", "apikey", "token", "api-key"}
_CREDENTIAL_WORDS = ("authorization", "key", "token", "secret", "password", "cookie")


def refuse_inline_keys(spec: ModelSpec) -> None:
    """Refuse `?api_key=...`: it would be written to the store as part of the model label."""
    for key in spec.settings:
        if key.lower() in _INLINE_KEY_SETTINGS:
            raise UserError(
                f"model {spec.provider}/{spec.name}: API keys are read from environment "
                "variables only; remove ?"
                f"{key}= and set the variable (or name it with ?api_key_env=NAME)"
            )


def from_env(name: str) -> str | None:
    """A variable from the environment, else from the file `ASSAY_KEYS_FILE` names."""
    value = os.environ.get(name)
    if value:
        return value
    return _keys_file().get(name) or None


def api_key(spec: ModelSpec, default_env: str, *, required: bool = True) -> str | None:
    """The provider's key, or a one-line `UserError` naming the variable to set."""
    refuse_inline_keys(spec)
    env = setting(spec, "api_key_env", default_env)
    value = from_env(env)
    if value is None and required:
        raise UserError(
            f"model {spec.provider}/{spec.name} needs an API key: set the environment variable "
            f"{env} (or name another with ?api_key_env=NAME, or point {KEYS_FILE_ENV} at a file "
            "of NAME=value lines)"
        )
    return value


def header_settings(spec: ModelSpec) -> set[str]:
    return {k for k in spec.settings if k.startswith(HEADER_PREFIX)}


def extra_headers(spec: ModelSpec) -> dict[str, str]:
    """Headers from `?header_<Name>=<value>` settings; `env:NAME` values come from a variable."""
    headers: dict[str, str] = {}
    for key in sorted(header_settings(spec)):
        name = key[len(HEADER_PREFIX) :]
        raw = spec.settings[key]
        if not name:
            raise UserError(f"model {spec.label}: write header_<Name>=value, e.g. header_X-Foo=1")
        if raw.startswith("env:"):
            value = from_env(raw[4:])
            if value is None:
                raise UserError(
                    f"model {spec.provider}/{spec.name}: header {name} reads the environment "
                    f"variable {raw[4:]}, which is not set"
                )
            headers[name] = value
        elif any(word in name.lower() for word in _CREDENTIAL_WORDS):
            raise UserError(
                f"model {spec.provider}/{spec.name}: header {name} looks like a credential; "
                f"write ?{key}=env:NAME and put the value in the environment variable NAME"
            )
        else:
            headers[name] = raw
    return headers


def secret_header_values(spec: ModelSpec, headers: dict[str, str]) -> list[str]:
    """Header values that came from the environment: redacted from error messages."""
    return [
        headers[key[len(HEADER_PREFIX) :]]
        for key in header_settings(spec)
        if spec.settings[key].startswith("env:")
    ]


def _keys_file() -> dict[str, str]:
    path_text = os.environ.get(KEYS_FILE_ENV)
    if not path_text:
        return {}
    path = Path(path_text).expanduser()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        raise UserError(
            f"{KEYS_FILE_ENV} points to {str(path)!r}, which cannot be read: fix the path"
        ) from None
    values: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip().strip("'\"")
    return values
