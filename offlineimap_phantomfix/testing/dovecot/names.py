"""Pure name and flag conversions between IMAP, Maildir file names and Dovecot's on-disk folder names."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

__all__ = [
    "MAILDIR_FLAGS",
    "imap_flags_to_maildir",
    "imap_utf7_decode",
    "imap_utf7_encode",
    "maildir_flags_to_imap",
    "normalise_letters",
]

#: Maildir info letters and the IMAP system flags they stand for.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
_IMAP_TO_LETTER = {flag.lower(): letter for letter, flag in MAILDIR_FLAGS.items()}


def imap_flags_to_maildir(flags: Iterable[str]) -> str:
    """``{"\\Seen", "\\Flagged"}`` -> ``"FS"``; keywords and \\Recent are left out."""
    return "".join(sorted({_IMAP_TO_LETTER[f.lower()] for f in flags if f.lower() in _IMAP_TO_LETTER}))


def maildir_flags_to_imap(letters: str) -> frozenset[str]:
    """``"FS"`` -> ``{"\\Flagged", "\\Seen"}``; unknown letters are ignored."""
    return frozenset(MAILDIR_FLAGS[c] for c in letters if c in MAILDIR_FLAGS)


def normalise_letters(flags: str) -> str:
    """Maildir letters sorted and without repeats; ``ValueError`` for a letter Maildir does not know."""
    unknown = set(flags) - set(MAILDIR_FLAGS) - {"P"}
    if unknown:
        raise ValueError(f"unknown Maildir flag letters: {''.join(sorted(unknown))!r}")
    return "".join(sorted(set(flags)))


def imap_utf7_encode(name: str) -> str:
    """A mailbox name in modified UTF-7 (RFC 3501 5.1.3): ``"Entwürfe"`` -> ``"Entw&APw-rfe"``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def imap_utf7_decode(name: str) -> str:
    """The inverse of :func:`imap_utf7_encode`."""

    def decode(match: re.Match[str]) -> str:
        chunk = match.group(1)
        if not chunk:
            return "&"
        data = chunk.replace(",", "/")
        data += "=" * (-len(data) % 4)
        return base64.b64decode(data).decode("utf-16-be")

    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, name)
