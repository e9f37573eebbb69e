"""The one exception netprobe raises for anything a user can fix."""


class NetprobeError(Exception):
    """A user-facing error: its message is one line saying what was wrong and what would be right."""

    exit_code = 2
