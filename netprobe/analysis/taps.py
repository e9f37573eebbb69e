"""What a model says about its own pyramid: timm's ``feature_info`` taps, and the stem they cut.

A timm model lists the modules whose outputs are its feature maps, each with its reduction
(``{"module": "conv2d_4a", "reduction": 4}``). Where taps at a stride of 4 or more lie before the
model's first stage container (Inception's long stem), those levels are stages: the stem is cut
after each tap inside it, and what follows the last one joins the first stage.
"""

from __future__ import annotations

BODY_REDUCTION = 4  # a tap at this reduction or more is a body level, not part of the stem


def feature_taps(model) -> tuple[tuple[str, int], ...]:
    """(module, reduction) of each feature map the model declares; () where it declares none."""
    info = getattr(model, "feature_info", None)
    if not isinstance(info, list):
        return ()
    return tuple((f["module"], int(f["reduction"])) for f in info
                 if isinstance(f, dict) and isinstance(f.get("module"), str) and "reduction" in f)


def cut_stem(names: list[str], layer_names: list[str], taps) -> list[str]:
    """Stage names with the stem cut after each tap inside it, where one of them is a body level."""
    stem = [i for i, n in enumerate(names) if n == "stem"]
    inside = [(m, r) for m, r in taps if any(_under(layer_names[i], m) for i in stem)]
    if not any(r >= BODY_REDUCTION for _, r in inside):
        return names
    ends = sorted({max(i for i in stem if _under(layer_names[i], m)) for m, _ in inside})
    first_body = next((n for n in names if _body(n)), None)
    out = list(names)
    for i in stem:
        level = sum(i > end for end in ends)
        if level == len(ends) and first_body:
            out[i] = first_body  # past the last tap: the first stage's downsampling (Inception's max-pool)
        elif level:
            out[i] = f"tap{level}"
    order = [n for n in dict.fromkeys(out) if _body(n) or n.startswith("tap")]
    renamed = {n: f"s{k}" for k, n in enumerate(order, 1)}
    return [renamed.get(n, n) for n in out]


def _body(name: str) -> bool:
    return name.startswith("s") and name[1:].isdigit()


def _under(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")
