"""A command run in a fresh process, as a user types it: did torch load, its exit code, its stderr lines."""

import subprocess
import sys

CODE = ("import sys; sys.argv = ['netprobe', *{argv!r}]\n"
        "from netprobe.cli.app import main\ntry:\n    main()\nexcept SystemExit as e:\n"
        "    print('torch' in sys.modules, e.code)")


def early_error(*argv: str) -> tuple[bool, int, list[str]]:
    """(torch imported, exit code, non-blank stderr lines) of ``netprobe ARGV`` (a Traceback fails the test)."""
    p = subprocess.run([sys.executable, "-c", CODE.format(argv=list(argv))], capture_output=True, text=True)
    assert "Traceback" not in p.stderr, p.stderr
    torch, code = p.stdout.split()
    return torch == "True", int(code), [line for line in p.stderr.splitlines() if line.strip()]
