"""Pure: read and check the ``phantom_*`` options of a repository section."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from offlineimap_phantomfix.errors import ConfigError
from offlineimap_phantomfix.verdicts import PhantomAction

DEFAULT_RETRY_AFTER = timedelta(days=7)
MAX_RETRY_AFTER = timedelta(days=36500)  # a century: longer would overflow date arithmetic; use 0 for never
KNOWN_OPTIONS = ("phantom_action", "phantom_retry_after", "phantom_dir")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class PhantomOptions:
    action: PhantomAction = PhantomAction.QUARANTINE
    retry_after: timedelta | None = DEFAULT_RETRY_AFTER  # None: never retry a skipped message
    directory: Path | None = None  # None: <metadata>/phantomfix


def state_directory(metadata: Path, options: PhantomOptions) -> Path:
    """Where the store, quarantine and reports live: ``phantom_dir``, else ``<metadata>/phantomfix``."""
    return options.directory if options.directory is not None else metadata / "phantomfix"


def parse_action(value: str, *, section: str = "") -> PhantomAction:
    try:
        return PhantomAction(value.strip().lower())
    except ValueError:
        choices = " | ".join(action.value for action in PhantomAction)
        raise ConfigError(f"{_where(section)}phantom_action = {value.strip()!r} is not one of {choices}") from None


def parse_duration(value: str, *, section: str = "") -> timedelta | None:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` (units in any case); ``0``, zero of any unit and ``never`` mean
    never (returns None)."""
    text = value.strip()
    if text.lower() == "never" or text == "0":
        return None
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(
            f"{_where(section)}phantom_retry_after = {text!r} is not a duration "
            "(a number with s, m, h, d or w, e.g. 7d; 0 = never)"
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount == 0:
        return None
    try:
        duration = timedelta(**{_UNITS[unit]: amount})
    except OverflowError:
        duration = None
    if duration is None or duration > MAX_RETRY_AFTER:
        raise ConfigError(f"{_where(section)}phantom_retry_after = {text!r} is too long "
                          f"(at most {MAX_RETRY_AFTER.days}d; 0 = never retry)")
    return duration


def format_duration(value: timedelta) -> str:
    """A duration as ``parse_duration`` reads it: ``7d``, ``12h``, ``90s``."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_options(values: Mapping[str, str], *, section: str = "") -> PhantomOptions:
    """Check every ``phantom_*`` key of a repository section; unknown ones are errors (typos lose mail)."""
    for key in values:
        if key.lower().startswith("phantom_") and key.lower() not in KNOWN_OPTIONS:
            raise ConfigError(f"{_where(section)}unknown option {key!r} (known: {', '.join(KNOWN_OPTIONS)})")
    lowered = {key.lower(): value for key, value in values.items()}
    action = parse_action(lowered["phantom_action"], section=section) if "phantom_action" in lowered \
        else PhantomAction.QUARANTINE
    retry_after = parse_duration(lowered["phantom_retry_after"], section=section) \
        if "phantom_retry_after" in lowered else DEFAULT_RETRY_AFTER
    directory = None
    if lowered.get("phantom_dir", "").strip():
        text = lowered["phantom_dir"].strip()
        try:
            directory = Path(text).expanduser()
        except RuntimeError:  # "~name" for a user this system does not know
            raise ConfigError(f"{_where(section)}phantom_dir = {text!r}: cannot expand the ~ in it") from None
    return PhantomOptions(action=action, retry_after=retry_after, directory=directory)


def _where(section: str) -> str:
    return f"[{section}] " if section else ""
