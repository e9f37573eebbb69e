"""Budgets a family cannot reach: every generator fails fast with its reason, never hangs or crashes."""

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from netprobe import registry
from netprobe.cli.app import _register, app
from netprobe.errors import NetprobeError

_register()
OUT_OF_REACH = ["10kF", "1MF", "2.1MF", "1e15"]  # plausible budgets (budget.MIN_MACS..MAX_MACS) no family reaches
IMPLAUSIBLE = ["1", "400", "1e30"]  # refused by the budget's own rule before any family is asked


@pytest.mark.parametrize("budget", OUT_OF_REACH)
@pytest.mark.parametrize("family", registry.generator_families())
def test_every_family_refuses_a_budget_out_of_reach_with_its_reason(family, budget):
    """Extreme budgets: a member within 2% where the family's rule reaches it (MobileNet scales its
    resolution down to a few MFLOPs), else the reason at once; never a hang or another exception."""
    from netprobe.budget import parse_budget
    from netprobe.reports.zoo import net_counts

    try:
        macs = net_counts(f"{family}@{budget}")[1].macs
    except NetprobeError as e:
        assert re.match(rf"cannot generate {family}@{budget}: .*choose a budget nearer", str(e)), str(e)
    else:
        assert abs(macs - parse_budget(budget)) <= 0.02 * parse_budget(budget)


@pytest.mark.parametrize("budget", IMPLAUSIBLE)
@pytest.mark.parametrize("family", registry.generator_families())
def test_an_implausible_budget_is_refused_before_the_family_is_asked(family, budget):
    from netprobe.reports.zoo import net_counts

    with pytest.raises(NetprobeError, match=rf"bad budget '{budget}': .*(did you mean|outside the plausible range)"):
        net_counts(f"{family}@{budget}")


def test_compare_generate_gives_each_family_its_row_at_an_unreachable_budget():
    result = CliRunner().invoke(app, ["compare", "--budget", "1MF", "--generate", "--json"])
    assert result.exit_code == 0, result.output
    generated = {r["family"]: r for r in json.loads(result.stdout) if r["generated"]}
    assert list(generated) == list(registry.generator_families())  # families with no width rule have no row
    assert all(r["error"].startswith(f"cannot generate {f}@1MF: ") for f, r in generated.items())


@pytest.mark.parametrize("command", [["summary", "regnety@1e15"], ["list", "regnety@1e15"]])
def test_the_cli_answers_an_enormous_budget_at_once(command):
    # Before, this searched ever larger RegNets until memory ran out; the timeout only catches that.
    done = subprocess.run([sys.executable, "-m", "netprobe", *command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot generate regnety@1e15: ") and done.stderr.count("\n") == 1
