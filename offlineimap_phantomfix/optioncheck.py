"""Pure: the typed options of offlineimaprc that offlineimap reads with ``int()``/``getboolean()`` and either
crashes on or misuses when they are wrong (``remoteport = abc``, ``maxconnections = 0`` waits forever).

Each check takes the value as text and returns None or why it is wrong; :func:`check_section` runs the table
over one section. Password options are not in the table and are never looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["ACCOUNT", "GENERAL", "REMOTE", "check_section"]

_BOOLEANS = {"1", "yes", "true", "on", "0", "no", "false", "off"}
Check = Callable[[str], "str | None"]


def _boolean(value: str) -> str | None:
    return None if value.strip().lower() in _BOOLEANS else "is not yes or no"


def _integer(low: int | None = None, high: int | None = None) -> Check:
    def check(value: str) -> str | None:
        try:
            number = int(value.strip(), 10)
        except ValueError:
            return "is not a whole number"
        if low is not None and number < low:
            return f"must be at least {low}"
        if high is not None and number > high:
            return f"must be at most {high}"
        return None

    return check


def _number(low: float) -> Check:
    def check(value: str) -> str | None:
        try:
            number = float(value.strip())
        except ValueError:
            return "is not a number"
        if number != number or number < low:  # NaN or below the range
            return f"must be a number of at least {low:g}"
        return None

    return check


GENERAL: dict[str, Check] = {
    "maxsyncaccounts": _integer(1),
    "socktimeout": _integer(0, 10 ** 6),
}
ACCOUNT: dict[str, Check] = {
    "utf8foldernames": _boolean,
    "autorefresh": _number(0),
    "quick": _integer(),
}
REMOTE: dict[str, Check] = {
    "remoteport": _integer(1, 65535),
    "maxconnections": _integer(1, 1000),
    "ssl": _boolean,
    "starttls": _boolean,
    "ipv6": _boolean,
    "holdconnectionopen": _boolean,
    "usecompression": _boolean,
    "readonly": _boolean,
    "expunge": _boolean,
    "keepalive": _integer(0),
    "singlethreadperfolder": _boolean,
}


def check_section(section: str, values: Mapping[str, str], table: Mapping[str, Check]) -> list[str]:
    """One line per bad value in ``values`` (only the table's options are looked at)."""
    problems: list[str] = []
    lowered = {key.lower(): value for key, value in values.items()}
    for option, check in table.items():
        if option in lowered:
            why = check(lowered[option])
            if why is not None:
                problems.append(f"[{section}] {option} = {lowered[option].strip()!r} {why}")
    return problems
