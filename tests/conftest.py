import csv
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def read_csv(name: str) -> list[dict]:
    with open(DATA / name) as f:
        return list(csv.DictReader(f))


@pytest.fixture(autouse=True)
def _pin_terminal(monkeypatch):
    """Rich tables at a fixed width, so table tests do not depend on the terminal."""
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("NO_COLOR", "1")
