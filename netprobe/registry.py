"""Named members of the zoo: canonical names, aliases, patterns and family names.

The registry reads the zoo's data (``netprobe.families``: families, members, generators); the
family list is what was declared there, and each spec made is checked to say the family its
member was registered in. Only specs live here (no torch), so listing and analytic counting
stay instant.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from netprobe.budget import parse_budget
from netprobe.errors import NetprobeError
from netprobe.spec import Net

if TYPE_CHECKING:
    from netprobe.families import Family


@dataclass(frozen=True)
class Entry:
    """A registered member: its family and a function that makes its spec."""

    name: str
    family: str
    make: Callable[[], Net]


_FAMILIES: dict[str, Family] = {}
_ENTRIES: dict[str, Entry] = {}
_ALIASES: dict[str, str] = {}
_GENERATORS: dict[str, Callable[[str, float], Net]] = {}


def __getattr__(name: str):
    if name == "FAMILIES":  # the family names, in declaration order, as the registry has them
        return families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def families() -> tuple[str, ...]:
    """Every declared family, in declaration order."""
    _load()
    return tuple(_FAMILIES)


def normalize(name: str) -> str:
    """Lower case, with '-' and spaces read as '_' (``RegNetX-400MF`` is ``regnetx_400mf``)."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register_family(family: Family) -> None:
    """Declare a family; declaring one twice is an error."""
    if family.name in _FAMILIES:
        raise ValueError(f"family declared twice: {family.name}")
    _FAMILIES[family.name] = family


def register(name: str, family: str, make: Callable[[], Net], aliases: tuple[str, ...] = ()) -> None:
    """Add a member of a declared family; a name or alias registered twice is an error."""
    for key in (name, *aliases):
        key = normalize(key)
        if key in _ENTRIES or key in _ALIASES:
            raise ValueError(f"model name registered twice: {key}")
    if family not in _FAMILIES:
        raise ValueError(f"{name}: family '{family}' is not declared; add it to netprobe.families.FAMILIES")
    _ENTRIES[name] = Entry(name, family, _checked(name, family, make))
    for alias in aliases:
        _ALIASES[normalize(alias)] = name


def _checked(name: str, family: str, make: Callable[[], Net]) -> Callable[[], Net]:
    """``make``, with its spec held to the family it was registered in (the spec's own ``family`` field)."""

    def checked_make() -> Net:
        net = make()
        if net.family != family:
            raise ValueError(f"{name} is registered in family '{family}' but its spec says '{net.family}'")
        return net

    return checked_make


def register_generator(family: str, generate: Callable[[str, float], Net]) -> None:
    """A declared family's budget-matched generator, reached as ``FAMILY@BUDGET``."""
    if family in _GENERATORS:
        raise ValueError(f"generator registered twice: {family}")
    if family not in _FAMILIES:
        raise ValueError(f"generator of family '{family}', which is not declared")
    _GENERATORS[family] = generate


def _load() -> None:
    """Read the zoo's families, members and generators, once (specs are made only when asked for)."""
    if not _ENTRIES:
        from netprobe import families as zoo  # here, not at the top: `netprobe --help` reads no family

        for family in zoo.FAMILIES:
            register_family(family)
        for m in zoo.members():
            register(m.name, m.family, m.make, m.aliases)
        for family, generate in zoo.GENERATORS.items():
            register_generator(family, generate)


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
    if key in _FAMILIES or any(ch in key for ch in "*?["):
        resolve(name)  # a pattern that matches nothing says so
        raise NetprobeError(f"'{name}' names several models, this takes one; see 'netprobe list {name}'")
    raise NetprobeError(unknown_message(name))


def unknown_message(name: str, families: bool = False) -> str:
    """``unknown model 'regnetx_04'; did you mean regnetx_004, regnetx_040?``

    Family names are suggested only where a list of models is accepted (``families``).
    """
    _load()
    candidates = list(_ENTRIES) + list(_ALIASES) + (list(_FAMILIES) if families else [])
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
    _load()
    fam = normalize(family)
    if fam not in _GENERATORS:
        if fam in _FAMILIES:
            raise NetprobeError(f"family '{family}' has no budget generator (no width rule to scale); "
                                f"choose from {', '.join(_GENERATORS)}")
        raise NetprobeError(f"unknown family '{family}'; choose from {', '.join(_GENERATORS)}")
    macs = parse_budget(budget) if isinstance(budget, str) else budget
    net = _GENERATORS[fam](f"{fam}@{budget}", macs)
    if net.family != fam:
        raise ValueError(f"the generator of family '{fam}' made a spec of family '{net.family}'")
    return net


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
        elif key in _FAMILIES:
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
