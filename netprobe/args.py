"""Numbers a user gives, as a number or as its text: one rule for the command line and the Python API."""

from __future__ import annotations

from netprobe.errors import NetprobeError


def positive(what: str, value, kind=int, hint: str = ""):
    """``value`` (a number or its text) as a positive int (or float); None stays None."""
    if value is None:
        return None
    try:
        number = kind(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        number = None
    if (isinstance(number, bool) or not isinstance(number, (int, float)) or not number > 0
            or number == float("inf") or (kind is int and number != int(number))):
        raise NetprobeError(f"{what} '{value}' is not a positive {'integer' if kind is int else 'number'}{hint}")
    return kind(number)
