"""The one exception netprobe raises for anything a user can fix."""


class NetprobeError(Exception):
    """A user-facing error: its message is one line saying what was wrong and what would be right."""

    exit_code = 2


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``rows`` holds the configurations measured before it."""

    def __init__(self, rows: list[dict]):
        super().__init__("interrupted")
        self.rows = rows
