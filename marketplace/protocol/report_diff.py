"""Field-by-field comparison of two canonical JSON documents (a recomputed report and a published one).

The audit recomputes a round's whole report and compares it with the published report. Bytes
are not enough (two honest machines may differ in the last bits of a float) and a short list of
fields is too little (anything not compared could be forged). So every field is compared:

- everything but floats exactly: strings, integers, booleans, null, the set of keys, lengths;
- floats within the tolerance the table gives for their path, reported as *noise* when they
  differ by no more than it, as a *mismatch* otherwise; a float path without a tolerance is
  compared exactly;
- benign variations never make a difference: key order, and the case of Ethereum addresses
  (as values and as keys; EIP-55 checksums are only a way of writing the same address);
- lists of records named in ``keyed`` (e.g. ``submissions`` keyed by ``participant``) are
  compared by key, so a missing or extra participant is named instead of shifting indices.

Paths read like ``submissions[0xabc…].reason`` or ``valuation.values[2]``. Tolerance patterns
are globs on the path: ``*`` matches anything and ``[*]`` any list index (e.g.
``valuation.utilities.*``, ``valuation.values[*]``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_INDEX = re.compile(r"\[[^\]]*\]")


class DiffKind(StrEnum):
    """How serious a difference is."""

    NOISE = "noise"  # floats within their tolerance: another machine's arithmetic
    MISMATCH = "mismatch"  # anything else


@dataclass(frozen=True)
class Difference:
    """One field that differs: ``expected`` is the recomputed value, ``found`` the published one."""

    path: str
    expected: Any
    found: Any
    kind: DiffKind
    tolerance: float | None = None

    @property
    def is_noise(self) -> bool:
        return self.kind is DiffKind.NOISE


def _pattern(glob: str) -> re.Pattern[str]:
    """``*`` matches anything, ``[*]`` any list index; everything else is literal."""
    parts = (re.escape(part).replace(r"\*", ".*") for part in glob.split("[*]"))
    return re.compile(r"\[[^\]]*\]".join(parts) + r"\Z")


@dataclass(frozen=True)
class Tolerances:
    """Absolute float tolerances by path pattern (first match wins); unmatched floats are exact."""

    patterns: tuple[tuple[str, float], ...] = ()

    def for_path(self, path: str) -> float | None:
        for glob, tolerance in self.patterns:
            if _pattern(glob).match(path):
                return tolerance
        return None


def is_address(value: object) -> bool:
    """A 0x-prefixed 20-byte hex string, in any letter case."""
    return isinstance(value, str) and bool(_ADDRESS.match(value))


def _norm_key(key: object) -> str:
    text = str(key)
    return text.lower() if is_address(text) else text


def diff(
    expected: Any,
    found: Any,
    *,
    tolerances: Tolerances | None = None,
    keyed: Mapping[str, str] | None = None,
    path: str = "",
) -> list[Difference]:
    """Every difference between ``expected`` and ``found`` (JSON-like values), in path order."""
    out: list[Difference] = []
    _walk(expected, found, path, tolerances or Tolerances(), dict(keyed or {}), out)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(
    e: Any, f: Any, path: str, tol: Tolerances, keyed: dict[str, str], out: list[Difference]
) -> None:
    if isinstance(e, Mapping) and isinstance(f, Mapping):
        _walk_mapping(e, f, path, tol, keyed, out)
    elif isinstance(e, list | tuple) and isinstance(f, list | tuple):
        key = keyed.get(_INDEX.sub("[*]", path)) if path else None
        if key is not None and _records_with(e, key) and _records_with(f, key):
            e_map = {_norm_key(item[key]): item for item in e}
            f_map = {_norm_key(item[key]): item for item in f}
            if len(e_map) == len(e) and len(f_map) == len(f):
                for k in sorted(e_map.keys() | f_map.keys()):
                    item_path = f"{path}[{k}]"
                    if k not in f_map:
                        out.append(Difference(item_path, e_map[k], None, DiffKind.MISMATCH))
                    elif k not in e_map:
                        out.append(Difference(item_path, None, f_map[k], DiffKind.MISMATCH))
                    else:
                        _walk(e_map[k], f_map[k], item_path, tol, keyed, out)
                return
        if len(e) != len(f):
            out.append(Difference(f"{path}.length", len(e), len(f), DiffKind.MISMATCH))
        for i, (ei, fi) in enumerate(zip(e, f, strict=False)):
            _walk(ei, fi, f"{path}[{i}]", tol, keyed, out)
    else:
        _compare_leaf(e, f, path, tol, out)


def _walk_mapping(
    e: Mapping[Any, Any],
    f: Mapping[Any, Any],
    path: str,
    tol: Tolerances,
    keyed: dict[str, str],
    out: list[Difference],
) -> None:
    e_norm = {_norm_key(k): v for k, v in e.items()}
    f_norm = {_norm_key(k): v for k, v in f.items()}
    for key in sorted(e_norm.keys() | f_norm.keys()):
        child = _join(path, key)
        if key not in f_norm:
            out.append(Difference(child, e_norm[key], None, DiffKind.MISMATCH))
        elif key not in e_norm:
            out.append(Difference(child, None, f_norm[key], DiffKind.MISMATCH))
        else:
            _walk(e_norm[key], f_norm[key], child, tol, keyed, out)


def _records_with(items: list[Any] | tuple[Any, ...], key: str) -> bool:
    return all(isinstance(item, Mapping) and key in item for item in items)


def _compare_leaf(e: Any, f: Any, path: str, tol: Tolerances, out: list[Difference]) -> None:
    if isinstance(e, bool) or isinstance(f, bool) or e is None or f is None:
        if (e is not f and e != f) or type(e) is not type(f):
            out.append(Difference(path, e, f, DiffKind.MISMATCH))
        return
    if is_address(e) and is_address(f):
        if str(e).lower() != str(f).lower():
            out.append(Difference(path, e, f, DiffKind.MISMATCH))
        return
    if isinstance(e, float) or isinstance(f, float):
        if not isinstance(e, int | float) or not isinstance(f, int | float):
            out.append(Difference(path, e, f, DiffKind.MISMATCH))
            return
        if e == f:
            return
        limit = tol.for_path(path)
        close = (
            limit is not None
            and math.isfinite(e)
            and math.isfinite(f)
            and abs(float(e) - float(f)) <= limit
        )
        out.append(Difference(path, e, f, DiffKind.NOISE if close else DiffKind.MISMATCH, limit))
        return
    if type(e) is not type(f) or e != f:
        out.append(Difference(path, e, f, DiffKind.MISMATCH))
