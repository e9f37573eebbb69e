"""The Python API: every bad argument is a NetprobeError, never a TypeError, an empty result or an error row."""

import pytest

import netprobe
from netprobe.errors import NetprobeError

BAD_CALLS = {
    "summary batch not a number": lambda: netprobe.summary("regnetx_002", batch="two"),
    "summary batch None": lambda: netprobe.summary("regnetx_002", batch=None),
    "summary fractional resolution": lambda: netprobe.summary("regnetx_002", resolution=224.5),
    "summary resolution text": lambda: netprobe.summary("regnetx_002", resolution="big"),
    "cost resolution text": lambda: netprobe.cost("regnetx_002", resolution="x"),
    "cost of a number": lambda: netprobe.cost(3),
    "compare tolerance text": lambda: netprobe.compare("400MF", tolerance="wide"),
    "compare tolerance None": lambda: netprobe.compare("400MF", tolerance=None),
    "compare no budget": lambda: netprobe.compare([]),
    "compare bench resolution": lambda: netprobe.compare("400MF", bench={"resolution": 64}),
    "compare bench not a dict": lambda: netprobe.compare("400MF", bench=["cpu"]),
    "compare bench unknown option": lambda: netprobe.compare("400MF", families="regnetx", bench={"bogus": 1}),
    "bench batch None": lambda: netprobe.bench("regnetx_002", batch=None),
    "bench unknown option": lambda: netprobe.bench("regnetx_002", bogus=1),
    "unreachable budget": lambda: netprobe.summary("regnetx@1MF"),
    "wildcard matching nothing": lambda: netprobe.summary("regnetz_*"),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=list(BAD_CALLS))
def test_every_bad_argument_is_a_netprobe_error(call):
    with pytest.raises(NetprobeError) as e:
        call()
    assert "\n" not in str(e.value)


def test_numbers_given_as_text_are_read_as_the_cli_reads_them():
    assert netprobe.summary("regnetx_002", batch="2").batch == 2
    assert netprobe.summary("regnetx_002", resolution=224.0).resolution == 224
    assert len(netprobe.compare("400MF", families="regnetx", tolerance="25")) == 1


def test_a_factory_that_exits_is_an_error_not_an_exit(tmp_path, monkeypatch):
    (tmp_path / "exiting.py").write_text("def make():\n    raise SystemExit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(NetprobeError, match=r"^exiting:make: the factory raised SystemExit: 3"):
        netprobe.summary("exiting:make")
