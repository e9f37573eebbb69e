import csv
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def read_csv(name: str) -> list[dict]:
    with open(DATA / name) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def roof_cache(tmp_path_factory):
    """One roofline cache for the whole run: the peak and bandwidth are measured once per dtype and threads."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, roof_cache):
    """Tests never read or write the user's cache directory."""
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(roof_cache))


@pytest.fixture(autouse=True)
def _pin_terminal(monkeypatch):
    """Rich tables at a fixed width, so table tests do not depend on the terminal."""
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("NO_COLOR", "1")
