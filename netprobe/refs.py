"""``package.module:callable`` references, optionally with literal keyword arguments: ``mymodels:SE(channels=64)``.

Parsed without importing anything (``ast`` reads the call, ``ast.literal_eval`` each keyword
value, so no code runs); the callable is imported only when it is resolved.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import os
import sys
from dataclasses import dataclass

from netprobe.errors import NetprobeError, first_line


@dataclass(frozen=True)
class Ref:
    """A callable named by import path, and the keyword arguments to call it with."""

    module: str
    attr: str  # dotted: Class.method works
    kwargs: tuple[tuple[str, object], ...] = ()

    @property
    def text(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return f"{self.module}:{self.attr}" + (f"({args})" if self.kwargs else "")


def parse_ref(text: str, what: str = "factory") -> Ref:
    """``module:attr`` or ``module:attr(key=literal, ...)`` as a Ref; NetprobeError when malformed."""
    usage = f"use package.module:{what} or package.module:{what}(key=value, ...)"
    module, sep, rest = text.strip().partition(":")
    if not sep or not module.strip() or not rest.strip():
        raise NetprobeError(f"'{text}' is not an import path; {usage}")
    try:
        node = ast.parse(rest.strip(), mode="eval").body
    except SyntaxError:
        raise NetprobeError(f"cannot read '{rest.strip()}' in '{text}'; {usage}") from None
    kwargs = ()
    if isinstance(node, ast.Call):
        if node.args or any(k.arg is None for k in node.keywords):
            raise NetprobeError(f"'{text}': give the {what}'s arguments by keyword (key=value); {usage}")
        kwargs = tuple((k.arg, _literal(k.value, text, what)) for k in node.keywords)
        node = node.func
    attr = _dotted(node)
    if attr is None:
        raise NetprobeError(f"'{rest.strip()}' in '{text}' is not a name; {usage}")
    return Ref(module.strip(), attr, kwargs)


def _literal(node, text: str, what: str):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise NetprobeError(f"'{text}': the {what}'s arguments must be literals (numbers, strings, "
                            f"tuples, lists, dicts, True/False/None), not '{ast.unparse(node)}'") from None


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def resolve(ref: Ref):
    """The object a Ref names, imported now; NetprobeError naming what is missing."""
    # Like uvicorn's app loader: a module in the working directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(ref.module)
    except ModuleNotFoundError as e:
        raise NetprobeError(f"cannot import '{ref.module}' ({e}); check the import path "
                            f"package.module:name in '{ref.text}'") from e
    except Exception as e:  # noqa: BLE001 - user code
        raise NetprobeError(f"importing '{ref.module}' failed: {type(e).__name__}: {first_line(e)}") from e
    for part in ref.attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NetprobeError(f"'{ref.module}' has no attribute '{ref.attr}'{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise NetprobeError(f"{ref.module}:{ref.attr} is a {type(obj).__name__}, not callable")
    return obj
