"""Pure: make server-chosen text safe to show on a terminal, in a log line or a file name."""

from __future__ import annotations

import re

_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def clean_text(value: str | bytes, *, keep_newlines: bool = False, limit: int = 0) -> str:
    """Drop escape sequences and control characters; bytes are decoded leniently.

    Tabs become spaces; newlines are kept only with ``keep_newlines`` (else they become spaces).
    ``limit`` > 0 cuts the result to that many characters, marking the cut with an ellipsis.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    text = _ANSI_ESCAPE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if not keep_newlines:
        text = " ".join(part.strip() for part in text.split("\n") if part.strip())
    text = _CONTROL.sub("", text)
    if limit > 0 and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "\u2026"
    return text


def safe_name(value: str, *, limit: int = 64) -> str:
    """A file-name component made only of ``[A-Za-z0-9._-]``, never ``.`` or ``..``, never empty."""
    name = _SAFE_NAME.sub("_", value).strip("._")[:limit]
    return name or "_"


_NAME_LIMIT = 240  # bytes: the whole name becomes one file name (a Maildir directory, offlineimap's status file)


def unsafe_folder_name(name: str, separator: str | None) -> str | None:
    """Why a server's folder name must not become a local folder, or None when it may.

    Refused: a control character, an empty, ``.`` or ``..`` part (split at the server's ``separator`` and at
    ``/``), or a name too long to be a file name.
    """
    if _CONTROL.search(name) or "\t" in name or "\n" in name:
        return "it contains control characters"
    parts = name.split(separator) if separator else [name]
    parts += name.split("/")  # the local side may use "/" whatever the server's separator
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' part"
    if len(name.encode("utf-8", "surrogateescape")) > _NAME_LIMIT:
        return f"it is longer than {_NAME_LIMIT} bytes"
    return None
