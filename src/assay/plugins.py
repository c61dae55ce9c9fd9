"""Load a user's Python object from a file: `path/to/module.py:name`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from assay.errors import UserError


def load_from_file(path: Path, name: str, *, what: str) -> Any:
    if not path.is_file():
        raise UserError(f"{what} file {str(path)!r} does not exist: check the path")
    module_name = f"assay_user_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {str(path)!r}: is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code failed: say where, briefly
        raise UserError(f"importing {str(path)!r} failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, name):
        found = sorted(n for n in vars(module) if not n.startswith("_"))
        raise UserError(
            f"{str(path)!r} has no {what} named {name!r} (it defines: {', '.join(found[:10])})"
        )
    return getattr(module, name)
