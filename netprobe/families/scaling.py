"""Budget-matched members: each family's own scaling rule, then a fine search to within 2%.

``generate_*(name, macs)`` returns a ``Net`` whose analytic MACs are within ``MATCH`` of the
budget; the registry reaches them as ``FAMILY@BUDGET`` (``regnety@1.6GF``). Everything is
pure Python on analytic costs, so a generated member costs milliseconds and is the same
network every time.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from typing import Callable

from netprobe.analysis.cost import net_totals
from netprobe.budget import format_budget, nearest
from netprobe.errors import NetprobeError
from netprobe.families.efficientnet import EFFICIENTNETS, EfficientNetCfg, efficientnet
from netprobe.families.regnet import REGNETS, RegNetCfg, regnet
from netprobe.families.resnet import RESNETS, STAGE_W, family_of, resnet
from netprobe.families.rexnet import ReXNetCfg, rexnet
from netprobe.families.rounding import quantize, scale_group_w
from netprobe.spec import Net

MATCH = 0.02  # a generated member's MACs are within 2% of its budget
STEPS = 40    # bisection steps: the knob's range shrinks to ~1e-12 of itself

# EfficientNet paper, Sec. 3.3: depth alpha**phi, width beta**phi, resolution gamma**phi,
# with alpha * beta**2 * gamma**2 ~ 2, so MACs grow ~2**phi.
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15
B0_RESOLUTION = 224
# pycls ``scaling_factors("d1_w8_g8", s)`` ("fast compound scaling" of Dollar et al. 2021,
# without its resolution share: RegNets are defined at 224): depth s**(1/9), widths s**(4/9).
E_DEPTH, E_WIDTH = 1 / 9, 4 / 9
# Each step of a search builds a whole spec, and a RegNet's depth and widths grow without
# bound with the scale factor (regnety@1e30 would be thousands of blocks millions wide), so a
# budget further than this from the nearest member fails at once instead of searching.
MAX_SCALE = 100


@lru_cache(maxsize=4096)  # searches meet the same net many times; Net is frozen and hashable
def macs_of(net: Net) -> int:
    """Analytic MACs at the native resolution."""
    return net_totals(net).macs


def _gap(net: Net, macs: int) -> float:
    return abs(math.log(macs_of(net) / macs))


def search(make: Callable[[float], Net], lo: float, hi: float, macs: int) -> tuple[float, Net]:
    """(knob, net) nearest the budget among those met while bisecting a knob that MACs grow with."""
    best, best_gap = (lo, None), math.inf
    for _ in range(STEPS):
        mid = (lo + hi) / 2
        net = make(mid)
        gap = _gap(net, macs)
        if gap < best_gap:
            best, best_gap = (mid, net), gap
        if macs_of(net) < macs:
            lo = mid
        else:
            hi = mid
    return best


def bisect(make: Callable[[float], Net], lo: float, hi: float, macs: int) -> Net:
    """The net of ``search``: the one nearest the budget."""
    return search(make, lo, hi, macs)[1]


def closest(searches, macs: int) -> Net:
    """``bisect`` each (maker, lo, hi) in turn, stopping at the first that lands well inside the match."""
    best = None
    for make, lo, hi in searches:
        net = bisect(make, lo, hi, macs)
        if best is None or _gap(net, macs) < _gap(best, macs):
            best = net
        if _gap(best, macs) < MATCH / 4:
            break
    return best


def _checked(net: Net, macs: int, how: str) -> Net:
    got = macs_of(net)
    if abs(got - macs) > MATCH * macs:
        raise NetprobeError(f"cannot generate {net.name}: {how} gets no closer than {format_budget(got)} "
                            f"({100 * (got - macs) / macs:+.1f}%); choose a budget nearer the family's members")
    return net


def compound(phi: float) -> EfficientNetCfg:
    """B0's coefficients raised to phi; dropout (cost-free) from the named member of nearest width."""
    width, depth = BETA ** phi, ALPHA ** phi
    dropout = min(EFFICIENTNETS.values(), key=lambda c: abs(c.width - width)).dropout
    return EfficientNetCfg(width, depth, max(32, round(B0_RESOLUTION * GAMMA ** phi)), dropout)


@lru_cache(maxsize=256)
def generate_efficientnet(name: str, macs: int) -> Net:
    """Compound scaling of B0 (Tan & Le 2019, Eq. 3): find phi, then fine-tune the width."""

    def make(cfg: EfficientNetCfg, phi: float) -> Net:
        net = efficientnet(name, cfg)
        return replace(net, design={**net.design, "phi": round(phi, 4), "resolution": cfg.resolution})

    phi, net = search(lambda phi: make(compound(phi), phi), -8.0, 12.0, macs)
    # Widths and depths are rounded per stage, so MACs step as phi grows. The width, rounded
    # per stage to multiples of 8, then closes the gap in fine steps at phi's depth and
    # resolution; the resolution moves MACs in coarse steps (feature maps are ceil(r / stride)).
    phi = round(phi, 4)  # the phi the net was made with, as its design shows it
    cfg = compound(phi)
    fine = [
        bisect(lambda x: make(replace(cfg, width=math.exp(x)), phi), math.log(cfg.width) - 0.2,
               math.log(cfg.width) + 0.2, macs),
        bisect(lambda r: make(replace(cfg, resolution=max(32, round(r))), phi), 32, 4096, macs),
    ]
    return _checked(min([net, *fine], key=lambda n: _gap(n, macs)), macs, "compound scaling")


@lru_cache(maxsize=256)
def generate_rexnet(name: str, macs: int) -> Net:
    """ReXNet's width multiplier (Han et al. 2021), searched so the MACs meet the budget."""

    def at_log_width(x: float) -> Net:
        width = round(math.exp(x), 4)
        return rexnet(name, ReXNetCfg(width=width))

    return _checked(bisect(at_log_width, math.log(0.1), math.log(16.0), macs), macs, "the width multiplier")


def _regnet_generator(family: str):
    members = [n for n in REGNETS if n.startswith(family)]

    @lru_cache(maxsize=256)
    def generate(name: str, macs: int) -> Net:
        """The nearest RegNet's design, compound-scaled in d and widths, then w_0/w_a fine-tuned.

        Every candidate stays in the quantized linear design space: integer d, w_0 a multiple
        of 8 (pycls ``generate_regnet``), the base member's w_m, a pycls-rounded group width.
        """
        base_name = nearest({n: macs_of(regnet(n, REGNETS[n])) for n in members}, macs)
        base = REGNETS[base_name]
        base_macs = macs_of(regnet(base_name, base))
        s = macs / base_macs
        if not 1 / MAX_SCALE <= s <= MAX_SCALE:
            side = "more" if s > 1 else "less"
            raise NetprobeError(f"cannot generate {name}: scaling {base_name} ({format_budget(base_macs)}) reaches "
                                f"at most {MAX_SCALE}x {side} compute; choose a budget nearer the family's members")
        d_rule, w_rule = max(1, round(base.d * s ** E_DEPTH)), s ** E_WIDTH
        group_w = scale_group_w(base.group_w * w_rule)

        def at(d: int, w_0: int, group_w: int) -> Callable[[float], Net]:
            def make(w_a: float) -> Net:
                cfg = RegNetCfg(d=d, w_0=w_0, w_a=round(w_a, 2), w_m=base.w_m, group_w=group_w, se=base.se)
                net = regnet(name, cfg)
                return replace(net, design={**net.design, "scaled_from": base_name})
            return make

        # Scaling w_0 and w_a together scales every u_j and keeps the stage layout; w_0 is
        # rounded to 8, so try its neighbours too, and a block more or less, each with the
        # w_a that lands nearest (MACs grow with w_a as blocks move to wider stages). Wide
        # group widths make widths step by a whole group, so their neighbours come last.
        w_0 = max(8, quantize(base.w_0 * w_rule, 8))  # a narrower stem-side width is no RegNet
        w_a = base.w_a * w_rule
        searches = [(at(d, w, g), w_a / 2, w_a * 2)
                    for g in (group_w, group_w - 8, group_w + 8)
                    for d in (d_rule, d_rule - 1, d_rule + 1, d_rule - 2, d_rule + 2)
                    for w in (w_0, w_0 - 8, w_0 + 8) if d >= 1 and w >= 8 and g >= 8]
        rule = at(d_rule, w_0, group_w)(w_a)
        net = rule if _gap(rule, macs) < MATCH / 4 else closest(searches, macs)
        return _checked(net, macs, f"scaling {base_name}")

    return generate


def _resnet_generator(family: str):
    members = [n for n, cfg in RESNETS.items() if family_of(cfg) == family]

    @lru_cache(maxsize=256)
    def generate(name: str, macs: int) -> Net:
        """The nearest member with its stage widths scaled (Zagoruyko & Komodakis 2016; pycls ``scale_model``).

        Widths are rounded to multiples of 8 (pycls), or of whatever keeps a grouped
        bottleneck's width per group whole (ResNeXt 32x4d: 16); the stem stays 64 wide.
        Rounding makes MACs step, so when widths alone cannot land, the third stage gets
        a block more or less, the way ResNet-101 and -152 deepen ResNet-50 (He et al. 2016).
        """
        base_name = nearest({n: macs_of(resnet(n, RESNETS[n])) for n in members}, macs)
        base = RESNETS[base_name]
        q = max(8, 64 // math.gcd(64, base.base_width))

        def at(d3: int) -> Callable[[float], Net]:
            cfg = replace(base, depths=(*base.depths[:2], d3, base.depths[3]))

            def make(x: float) -> Net:
                stage_w = tuple(max(q, quantize(w * math.exp(x), q)) for w in STAGE_W)
                net = resnet(name, cfg, stage_w=stage_w)
                return replace(net, design={**net.design, "stage_w": stage_w, "scaled_from": base_name})
            return make

        d3 = base.depths[2]
        depths = sorted(range(1, d3 + 5), key=lambda d: (abs(d - d3), d))[:8]
        net = closest([(at(d), math.log(1 / 16), math.log(16.0)) for d in depths], macs)
        return _checked(net, macs, f"scaling {base_name}")

    return generate


GENERATORS = {
    "regnetx": _regnet_generator("regnetx"),
    "regnety": _regnet_generator("regnety"),
    "efficientnet": generate_efficientnet,
    "resnet": _resnet_generator("resnet"),
    "resnext": _resnet_generator("resnext"),
    "wide_resnet": _resnet_generator("wide_resnet"),
    "rexnet": generate_rexnet,
}
