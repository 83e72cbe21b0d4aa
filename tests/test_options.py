"""options.py: phantom_* options, good and bad."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from offlineimap_phantomfix.errors import ConfigError
from offlineimap_phantomfix.options import DEFAULT_RETRY_AFTER, parse_duration, parse_options
from offlineimap_phantomfix.verdicts import PhantomAction


def test_defaults() -> None:
    options = parse_options({"type": "PhantomSafeIMAP"})
    assert options.action is PhantomAction.QUARANTINE
    assert options.retry_after == DEFAULT_RETRY_AFTER == timedelta(days=7)
    assert options.directory is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
     ("90s", timedelta(seconds=90)), ("2w", timedelta(weeks=2)), (" 3D ", timedelta(days=3)),
     ("0", None), ("never", None)],
)
def test_durations(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["7", "7 days", "-1d", "d", "", "1.5d", "7y"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="phantom_retry_after"):
        parse_duration(text)


def test_action_and_dir() -> None:
    options = parse_options({"phantom_action": "Skip", "phantom_dir": "~/x/phantoms"})
    assert options.action is PhantomAction.SKIP
    assert options.directory == Path("~/x/phantoms").expanduser()


def test_bad_action_is_one_line_naming_option_and_section() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_options({"phantom_action": "delete"}, section="Repository Remote")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("[Repository Remote] phantom_action = 'delete'")
    assert "quarantine | skip | retry" in text


def test_unknown_phantom_option_is_an_error() -> None:
    with pytest.raises(ConfigError, match="phantom_actoin"):
        parse_options({"phantom_actoin": "skip"})
