"""Names, aliases, patterns, family names and the did-you-mean message."""

import pytest

from netprobe import registry
from netprobe.errors import NetprobeError


@pytest.mark.parametrize("alias, name", [
    ("RegNetX-400MF", "regnetx_004"), ("regnetx_400mf", "regnetx_004"), ("regnety_1.6gf", "regnety_016"),
    ("rexnet_100", "rexnet_1.0x"), ("REXNET_200", "rexnet_2.0x"), ("EfficientNet-B3", "efficientnet_b3"),
])
def test_aliases(alias, name):
    assert registry.entry(alias).name == name


def test_torchvision_regnet_names_are_not_aliases():
    with pytest.raises(NetprobeError):
        registry.entry("regnet_y_400mf")


def test_patterns_and_families():
    assert len(registry.resolve("regnety_*")) == 12
    assert registry.resolve("efficientnet") == [f"efficientnet_b{i}" for i in range(8)]
    assert registry.resolve("resnet") == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert registry.resolve("resnet50,RegNetX-400MF,resnet50") == ["resnet50", "regnetx_004"]
    with pytest.raises(NetprobeError, match="no model matches"):
        registry.resolve("vit_*")


def test_unknown_name_suggests_closest():
    with pytest.raises(NetprobeError) as e:
        registry.entry("regnetx_04")
    msg = str(e.value)
    assert msg.startswith("unknown model 'regnetx_04'; did you mean ")
    assert "regnetx_004" in msg and "regnetx_040" in msg and "\n" not in msg


def test_registering_twice_is_an_error():
    registry.names()
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("resnet50", "resnet", lambda: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("something_new", "resnet", lambda: None, aliases=("RegNetX-400MF",))


def test_single_model_lookup_explains_family_and_pattern_names():
    for name in ("regnetx", "regnetx_*"):
        with pytest.raises(NetprobeError, match="names several models, this takes one"):
            registry.entry(name)


def test_family_names_are_suggested_only_where_lists_are_accepted():
    with pytest.raises(NetprobeError, match="did you mean regnetx, regnety"):
        registry.resolve("regnetz")
    with pytest.raises(NetprobeError) as e:
        registry.entry("regnetz")
    assert "regnetx," not in str(e.value)


def test_the_family_list_is_what_the_members_were_registered_in():
    assert set(registry.families()) == {registry.entry(n).family for n in registry.names()}
    assert registry.FAMILIES == registry.families()


def test_a_member_of_an_undeclared_family_is_refused(monkeypatch):
    registry.names()
    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))
    with pytest.raises(ValueError, match="family 'vit' is not declared"):
        registry.register("vit_tiny", "vit", lambda: None)


def test_a_spec_that_names_another_family_is_refused_when_made(monkeypatch):
    registry.names()
    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))
    registry.register("not_a_resnet", "resnet", registry.entry("regnetx_002").make)
    with pytest.raises(ValueError, match="registered in family 'resnet' but its spec says 'regnetx'"):
        registry.spec("not_a_resnet")
