"""Range checks for numeric options: a value argparse accepts (nan, -1, 2**70) but that means
nothing is one line saying which option and what it takes, before any work is done."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable

from assay.errors import UserError

SEED_MAX = 2**64 - 1  # seeds are stored as JSON integers, which hold 64 bits


def check_range(
    option: str,
    value: float | None,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
) -> None:
    """Raise `UserError` unless `value` (when given) is finite and within the bounds."""
    if value is None:
        return
    bounds = []
    if at_least is not None:
        bounds.append(f">= {_fmt(at_least)}")
    if above is not None:
        bounds.append(f"> {_fmt(above)}")
    if at_most is not None:
        bounds.append(f"<= {_fmt(at_most)}")
    if below is not None:
        bounds.append(f"< {_fmt(below)}")
    wanted = " and ".join(bounds) or "a finite number"
    ok = (isinstance(value, int) or math.isfinite(value)) and not (
        (at_least is not None and value < at_least)
        or (above is not None and value <= above)
        or (at_most is not None and value > at_most)
        or (below is not None and value >= below)
    )
    if not ok:
        raise UserError(f"{option} {_fmt(value)} is out of range: it must be {wanted}")


def check_seed(option: str, value: int | None) -> None:
    check_range(option, value, at_least=0, at_most=SEED_MAX)


_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def is_host(host: str) -> bool:
    """A host name (letters, digits, '-', '_', '.') or an IP address: what a URL may name."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOST_NAME.fullmatch(host)) and ".." not in host


def check_distinct(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise UserError(f"{what} {value!r} is given twice: name each one once")
        seen.add(value)


def _fmt(value: float) -> str:
    if isinstance(value, int) and value == SEED_MAX:
        return "2^64-1"
    if isinstance(value, int) and value.bit_length() > 64:
        return f"{str(value)[:12]}... ({len(str(value))} digits)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
