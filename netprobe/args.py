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


def parse_batches(batch) -> list[int]:
    """``8``, ``"1,8,64"`` or ``[1, 8]`` as a list of positive ints, repeats dropped."""
    if batch is None:
        raise NetprobeError("no batch size given; use e.g. 8 or 1,8,64")
    items = batch.split(",") if isinstance(batch, str) else batch if isinstance(batch, (list, tuple)) else [batch]
    out = [positive("batch", b, hint="; use e.g. 8 or 1,8,64") for b in items]
    if not out:
        raise NetprobeError("no batch size given; use e.g. 8 or 1,8,64")
    return list(dict.fromkeys(out))


def one_batch(batch, command: str, verb: str = "counts") -> int:
    """The one batch size of a command that counts or profiles one configuration; a list says where sweeps go."""
    if isinstance(batch, str) and "," in batch:
        raise NetprobeError(f"{command} {verb} one batch, got '{batch}'; for a sweep use "
                            f"'netprobe bench MODEL --batch {batch}'")
    return positive("batch", batch, hint="; use e.g. 8")
