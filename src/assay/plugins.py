"""Load a user's Python object from a file: `path/to/module.py:name`."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from assay.errors import UserError

USER_MODULE_PREFIX = "assay_user_"


def load_from_file(path: Path, name: str, *, what: str) -> Any:
    if not path.is_file():
        raise UserError(f"{what} file {str(path)!r} does not exist: check the path")
    module_name = f"{USER_MODULE_PREFIX}{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {str(path)!r}: is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except UserError:  # already one line the user can act on (a taken benchmark name)
        raise
    except Exception as exc:  # the user's code failed: say where, briefly
        raise UserError(f"importing {str(path)!r} failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, name):
        found = sorted(n for n in vars(module) if not n.startswith("_"))
        raise UserError(
            f"{str(path)!r} has no {what} named {name!r} (it defines: {', '.join(found[:10])})"
        )
    return getattr(module, name)


def defined_at(obj: Any) -> str:
    """`module.qualname (file)`: where a benchmark or perturbation is defined, for messages."""
    try:
        where = inspect.getsourcefile(obj)
    except TypeError:
        where = None
    if where and obj.__module__.startswith(USER_MODULE_PREFIX):
        return f"{where}:{obj.__qualname__}"
    return f"{obj.__module__}.{obj.__qualname__}" + (f" ({where})" if where else "")


def same_definition(a: Any, b: Any) -> bool:
    """The same function or class, possibly imported again (a file loaded twice, a reload)."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)
