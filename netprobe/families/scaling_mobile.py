"""Budget-matched mobile members: each family's width multiplier, searched to within 2% of the budget.

The papers scale these networks by a width multiplier: MobileNetV1's alpha (Howard et al.
2017, Sec. 3.3), MobileNetV2's multiplier (Sandler et al. 2018, Sec. 6.1), ShuffleNetV1's
"ShuffleNet s x" (Zhang et al. 2018, Sec. 4.1) and ShuffleNetV2's channel scaling of its
Table 5 (Ma et al. 2018). Widths keep each family's rounding rule. The MobileNets' widths
round to multiples of 8, which makes their MACs jump (MobileNetV2's 32-wide stage goes
from 24 to 32 at once); their second knob, the input resolution (MobileNetV1's rho, Sec. 3.4;
MobileNetV2's 96-224 px, Sec. 6.1), then closes the gap.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from netprobe.budget import nearest
from netprobe.families.mobilenet import mobilenetv1, mobilenetv2
from netprobe.families.rounding import quantize
from netprobe.families.scaling import MATCH, _checked, bisect, macs_of, search
from netprobe.families.shufflenet import SHUFFLENETV2S, ShuffleNetV1Cfg, shufflenetv1, shufflenetv2
from netprobe.spec import Net

WIDTH_RANGE = (math.log(0.05), math.log(16.0))  # log width multipliers searched
RESOLUTION_RANGE = (32, 1024)
SHUFFLENETV1_GROUPS = 3  # the paper's default group count (its Table 2 scales g = 3)
SHUFFLENETV2_Q = 4       # ShuffleNetV2's widths (48, 116, 176, 244...) are multiples of 4


def _width_generator(family: str, make, resolution_knob: bool = False):
    @lru_cache(maxsize=256)
    def generate(name: str, macs: int) -> Net:
        """The width multiplier at 224 px, bisected in log space [, then the resolution at that width]."""
        x, net = search(lambda x: make(name, round(math.exp(x), 4)), *WIDTH_RANGE, macs)
        if resolution_knob and abs(math.log(macs_of(net) / macs)) > MATCH / 4:
            width = round(math.exp(x), 4)  # the multiplier the net was made with
            by_res = bisect(lambda r: make(name, width, resolution=round(r)), *RESOLUTION_RANGE, macs)
            net = min(net, by_res, key=lambda n: abs(math.log(macs_of(n) / macs)))
        return _checked(net, macs, "the width multiplier and resolution" if resolution_knob else "the width multiplier")

    generate.__name__ = f"generate_{family}"
    return generate


def _shufflenetv1(name: str, scale: float) -> Net:
    """ShuffleNetV1 (g = 3) at width scale s."""
    return shufflenetv1(name, ShuffleNetV1Cfg(SHUFFLENETV1_GROUPS, scale))


@lru_cache(maxsize=256)
def generate_shufflenetv2(name: str, macs: int) -> Net:
    """The nearest ShuffleNetV2 with its three stage widths scaled (multiples of 4); its last 1x1 conv kept."""
    base_name = nearest({n: macs_of(shufflenetv2(n, w)) for n, w in SHUFFLENETV2S.items()}, macs)
    base = SHUFFLENETV2S[base_name]

    def make(x: float) -> Net:
        widths = (*(max(SHUFFLENETV2_Q, quantize(w * math.exp(x), SHUFFLENETV2_Q)) for w in base[:3]), base[3])
        net = shufflenetv2(name, widths)
        return replace(net, design={**net.design, "scaled_from": base_name})

    return _checked(bisect(make, *WIDTH_RANGE, macs), macs, f"scaling {base_name}")


MOBILE_GENERATORS = {
    "mobilenetv1": _width_generator("mobilenetv1", mobilenetv1, resolution_knob=True),
    "mobilenetv2": _width_generator("mobilenetv2", mobilenetv2, resolution_knob=True),
    "shufflenetv1": _width_generator("shufflenetv1", _shufflenetv1),
    "shufflenetv2": generate_shufflenetv2,
}
