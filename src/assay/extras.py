"""Optional dependencies: a missing one is one line naming the extra that installs it."""

from __future__ import annotations

import importlib
import importlib.util

from assay.errors import UserError


def require(module: str, extra: str, feature: str, *, load: bool = True) -> None:
    """Raise a one-line `UserError` unless `module` is installed.

    With `load` (the feature imports it soon anyway) the module is imported, which also catches
    a broken install; without, it is only looked up, which costs nothing at start-up.
    """
    try:
        if load:
            importlib.import_module(module)
            return
        if importlib.util.find_spec(module) is not None:
            return
        missing = module
    except ImportError as exc:
        missing = exc.name or module
    except ValueError:  # a module without a spec: present, if odd
        return
    raise UserError(
        f"{feature} needs {missing}, which is not installed: pip install 'assay[{extra}]'"
    )
