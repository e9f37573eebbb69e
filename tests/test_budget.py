"""Budgets: every accepted form parses to MACs, every bad one is a one-line error naming the forms."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netprobe.budget import MAX_MACS, MIN_MACS, format_budget, nearest, parse_budget, parse_budgets
from netprobe.errors import NetprobeError

SCALES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


@pytest.mark.parametrize("text, macs", [
    ("400MF", 400_000_000), ("1.6GF", 1_600_000_000), ("0.4G", 400_000_000), ("400M", 400_000_000),
    ("4e8", 400_000_000), ("400mf", 400_000_000), (" 1.6 gf ", 1_600_000_000), ("8GF", 8 * 10**9),
    (".5GF", 500_000_000), ("4E8", 400_000_000), ("200000000", 200_000_000), ("32tf", 32 * 10**12),
])
def test_accepted_forms(text, macs):
    assert parse_budget(text) == macs


@pytest.mark.parametrize("text", ["abc", "-1GF", "0", "400XF", "", "GF", "1.6.2GF", "nan", "inf", "1e400", "0.4",
                                  "400MFF", "4e8e2", "1,6GF"])
def test_bad_forms_name_the_accepted_ones(text):
    with pytest.raises(NetprobeError) as e:
        parse_budget(text)
    message = str(e.value)
    assert "\n" not in message
    assert f"'{text}'" in message and "400MF" in message and "1.6GF" in message and "4e8" in message


def test_comma_list_keeps_labels_and_drops_repeats():
    assert parse_budgets("400MF,800MF, 1.6GF,0.4G") == [
        ("400MF", 400_000_000), ("800MF", 800_000_000), ("1.6GF", 1_600_000_000)]


@pytest.mark.parametrize("text", ["400MF,", ",400MF", "400MF,,1.6GF"])
def test_comma_list_with_an_empty_item(text):
    with pytest.raises(NetprobeError, match="empty item"):
        parse_budgets(text)


def test_comma_list_reports_the_bad_item():
    with pytest.raises(NetprobeError, match="'400XF'"):
        parse_budgets("400MF,400XF")


@pytest.mark.parametrize("macs, label", [(4e8, "400MF"), (1.6e9, "1.6GF"), (8e9, "8GF"), (12e9, "12GF"),
                                         (2e8, "200MF"), (1.5e12, "1.5TF")])
def test_format_is_the_paper_label(macs, label):
    assert format_budget(macs) == label


@given(n=st.integers(1, 999_999), unit=st.sampled_from(sorted(SCALES)), f=st.sampled_from(["", "F", "f"]))
def test_integer_with_unit(n, unit, f):
    if not unit:
        f = ""  # a bare F without a prefix is not a form
    macs = n * SCALES[unit]
    if MIN_MACS <= macs <= MAX_MACS:
        assert parse_budget(f"{n}{unit}{f}") == macs
    else:
        with pytest.raises(NetprobeError, match="did you mean|plausible range"):
            parse_budget(f"{n}{unit}{f}")


@pytest.mark.parametrize("text, hint", [("400", "did you mean 400MF?"), ("1.6", "did you mean 1.6MF?"),
                                        ("9999", "did you mean 9999MF?")])
def test_a_bare_small_number_is_refused_with_the_likely_budget(text, hint):
    with pytest.raises(NetprobeError) as e:
        parse_budget(text)
    assert hint in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["1e20", "2000TF", "5k"])
def test_an_implausible_budget_says_the_range(text):
    with pytest.raises(NetprobeError, match="outside the plausible range 10kF to 1000TF"):
        parse_budget(text)


def test_the_range_edges_are_accepted():
    assert parse_budget("1e4") == MIN_MACS and parse_budget("1000TF") == MAX_MACS


@given(st.floats(min_value=1e4, max_value=1e14, allow_nan=False))
def test_format_round_trips_to_4_significant_digits(macs):
    assert parse_budget(format_budget(macs)) == pytest.approx(macs, rel=5e-4)


@given(st.text(max_size=12))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        macs = parse_budget(text)
    except NetprobeError as e:
        assert "400MF" in str(e)
    else:
        assert isinstance(macs, int) and macs >= 1


def test_nearest_is_in_log_distance_and_ties_go_to_the_first_name():
    assert nearest({"half": 200, "double": 800}, 400) == "double"  # equally far in log distance
    assert nearest({"a": 250, "b": 580}, 400) == "b"  # 580/400 < 400/250, though 180 MACs away and not 150
    assert nearest({"b": 100, "a": 100}, 400) == "a"
