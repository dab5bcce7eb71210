import pytest

from phasegate.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("2m", 120), ("500ms", 0.5), ("1h30m", 5400), (5, 5), ("2.5", 2.5)],
)
def test_durations_people_write(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "5 minutes", "", -1, True, "m"])
def test_non_durations_are_refused_with_the_accepted_forms(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
