"""Named members of the zoo: canonical names, aliases, patterns and family names.

Only specs live here (no torch), so listing and analytic counting stay instant.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Callable

from netprobe.errors import NetprobeError
from netprobe.spec import Net


@dataclass(frozen=True)
class Entry:
    """A registered member: its family and a function that makes its spec."""

    name: str
    family: str
    make: Callable[[], Net]


_ENTRIES: dict[str, Entry] = {}
_ALIASES: dict[str, str] = {}
_GENERATORS: dict[str, Callable[[str, float], Net]] = {}

FAMILIES = ("regnetx", "regnety", "efficientnet", "resnet", "resnext", "wide_resnet", "rexnet")
# the ResNet variants
FAMILIES += ("seresnet", "seresnext", "skresnet", "skresnext", "resnest", "cbam_resnet", "wrn_cifar")
# the mobile and dense families
FAMILIES += ("mobilenetv1", "mobilenetv2", "shufflenetv1", "shufflenetv2", "xception", "densenet", "condensenet")


def normalize(name: str) -> str:
    """Lower case, with '-' and spaces read as '_' (``RegNetX-400MF`` is ``regnetx_400mf``)."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register(name: str, family: str, make: Callable[[], Net], aliases: tuple[str, ...] = ()) -> None:
    """Add a member; a name or alias registered twice is an error."""
    for key in (name, *aliases):
        key = normalize(key)
        if key in _ENTRIES or key in _ALIASES:
            raise ValueError(f"model name registered twice: {key}")
    _ENTRIES[name] = Entry(name, family, make)
    for alias in aliases:
        _ALIASES[normalize(alias)] = name


def register_generator(family: str, generate: Callable[[str, float], Net]) -> None:
    """A family's budget-matched generator, reached as ``FAMILY@BUDGET``."""
    if family in _GENERATORS:
        raise ValueError(f"generator registered twice: {family}")
    _GENERATORS[family] = generate


def _load() -> None:
    if not _ENTRIES:
        from netprobe.families import register_all

        register_all()


def names() -> list[str]:
    """Every canonical name, in registration order (family by family)."""
    _load()
    return list(_ENTRIES)


def entry(name: str) -> Entry:
    """The registered member of a name or alias."""
    _load()
    key = normalize(name)
    key = _ALIASES.get(key, key)
    if key in _ENTRIES:
        return _ENTRIES[key]
    if key in FAMILIES or any(ch in key for ch in "*?["):
        resolve(name)  # a pattern that matches nothing says so
        raise NetprobeError(f"'{name}' names several models, this takes one; see 'netprobe list {name}'")
    raise NetprobeError(unknown_message(name))


def unknown_message(name: str, families: bool = False) -> str:
    """``unknown model 'regnetx_04'; did you mean regnetx_004, regnetx_040?``

    Family names are suggested only where a list of models is accepted (``families``).
    """
    _load()
    candidates = list(_ENTRIES) + list(_ALIASES) + (list(FAMILIES) if families else [])
    key = normalize(name)
    scored = [(difflib.SequenceMatcher(None, key, c).ratio(), c) for c in candidates]
    best = sorted((s for s in scored if s[0] >= 0.6), key=lambda s: (-s[0], s[1]))[:3]
    close = list(dict.fromkeys(_ALIASES.get(c, c) for _, c in best))
    hint = f"; did you mean {', '.join(close)}?" if close else "; see 'netprobe list'"
    return f"unknown model '{name}'{hint}"


def spec(name: str) -> Net:
    """The spec of a registered member, or of a generated one (``regnety@1.6GF``)."""
    if "@" in name:
        family, _, budget = name.partition("@")
        return generate(family, budget)
    return entry(name).make()


def generate(family: str, budget: str | float) -> Net:
    """A new member of ``family`` matched to a compute budget (see netprobe.families.scaling)."""
    from netprobe.budget import parse_budget

    _load()
    fam = normalize(family)
    if fam not in _GENERATORS:
        if fam in FAMILIES:
            raise NetprobeError(f"family '{family}' has no budget generator (no width rule to scale); "
                                f"choose from {', '.join(_GENERATORS)}")
        raise NetprobeError(f"unknown family '{family}'; choose from {', '.join(_GENERATORS)}")
    macs = parse_budget(budget) if isinstance(budget, str) else budget
    return _GENERATORS[fam](f"{fam}@{budget}", macs)


def generator_families() -> list[str]:
    """Families that have a budget generator, in registration order."""
    _load()
    return list(_GENERATORS)


def resolve(patterns: str | list[str]) -> list[str]:
    """Names matching a comma-separated list of names, aliases, wildcards or families."""
    _load()
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    out: list[str] = []
    for pat in patterns:
        key = normalize(pat)
        if "@" in key:
            matched = [pat.strip()]
        elif key in FAMILIES:
            matched = [n for n, e in _ENTRIES.items() if e.family == key]
        elif any(ch in key for ch in "*?["):
            matched = [n for n in _ENTRIES if fnmatch.fnmatchcase(n, key)]
            matched += [_ALIASES[a] for a in _ALIASES if fnmatch.fnmatchcase(a, key)]
            if not matched:
                raise NetprobeError(f"no model matches '{pat}'; see 'netprobe list'")
        elif normalize(_ALIASES.get(key, key)) in _ENTRIES:
            matched = [entry(key).name]
        else:
            raise NetprobeError(unknown_message(pat.strip(), families=True))
        out += matched
    return list(dict.fromkeys(out))
