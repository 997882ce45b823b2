from datetime import timedelta

import pytest

from bot.domain.durations import InvalidDuration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("1d2h3m4s", 93784)],
)
def test_accepted(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "h",
        "2",
        "2x",
        "-1h",
        "+1h",
        "1.5h",
        "2H",
        "2 hours",
        "1h 30m",
        "30m1h",
        "1:30",
        "1w",
        "1y",
        "100ms",
        "2h30",
        "１h",
        "99999999999h",
    ],
)
def test_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(InvalidDuration) as e:
        parse_duration(text)
    assert "duration" in str(e.value) or "long" in str(e.value)


def test_zero_is_refused() -> None:
    with pytest.raises(InvalidDuration, match="is zero"):
        parse_duration("0h0m")


def test_far_too_long() -> None:
    with pytest.raises(InvalidDuration, match="far too long"):
        parse_duration("999999d")
