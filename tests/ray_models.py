"""Models for the Ray tests; shipped to the workers as the tests' runtime_env working_dir.

Each misbehaves only in a process other than the one that made it: the driver runs a
model once itself, to count its MACs, before any task is sent.
"""

import os
import signal
import time

from torch import nn


class Doomed(nn.Module):
    """Kills its worker process on its first forward pass, in each of the first ``deaths`` attempts.

    Every attempt (a fresh copy on a worker) appends its process id to ``log``.
    """

    def __init__(self, name: str, log: str, deaths: int):
        super().__init__()
        self.spec_name, self.log, self.deaths, self.driver = name, log, deaths, os.getpid()
        self.conv = nn.Conv2d(3, 4, 1)
        self.started = False

    def forward(self, x):
        if not self.started and os.getpid() != self.driver:
            self.started = True
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()}\n")
            with open(self.log) as f:
                attempt = len(f.read().split())
            if attempt <= self.deaths:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.conv(x)


class Sleeper(nn.Module):
    """A forward pass that takes ``seconds`` on a worker."""

    def __init__(self, name: str, seconds: float):
        super().__init__()
        self.spec_name, self.seconds, self.driver = name, seconds, os.getpid()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        if os.getpid() != self.driver:
            time.sleep(self.seconds)
        return self.conv(x)
