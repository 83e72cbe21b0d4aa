"""Pure file reading: is a Maildir file the server's substitute notice? Header block first, body only if needed.

The decision is :func:`~offlineimap_phantomfix.placeholder.detect_placeholder`'s, on the whole message. This
module only keeps a large archive cheap to walk: a file whose header block has a Subject of its own and no
trace of the notice's wording is ruled out after reading that block; every other file (a few per thousand)
is read whole (up to :data:`READ_LIMIT`) and handed to the detector.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from offlineimap_phantomfix.placeholder import PlaceholderInfo, detect_placeholder

__all__ = ["READ_LIMIT", "read_notice", "same_content_in"]

READ_LIMIT = 1 << 20  # a substitute notice is a few KB; nothing larger is handed to the detector
_HEADER_LIMIT = 128 * 1024
_CHUNK = 16 * 1024
_SUBJECT = re.compile(rb"^subject[ \t]*:[ \t]*\S", re.MULTILINE)
_FIELD_START = re.compile(rb"[!-9;-~]+[ \t]*:")


def _header_end(data: bytes) -> int:
    """Where the header block ends (the first empty line, LF or CRLF), or -1 when not within ``data``."""
    ends = [index for index in (data.find(b"\n\n"), data.find(b"\n\r\n")) if index >= 0]
    return min(ends) if ends else -1


def _may_be_notice(head: bytes) -> bool:
    """False only for a header block that rules a notice out: a Subject of its own, no notice wording."""
    if not _FIELD_START.match(head):
        return True  # not a header block at all (a header-less substitute starts with its text)
    lowered = head.lower()
    if b"retrieval" in lowered or b"the server could" in lowered:
        return True
    return _SUBJECT.search(lowered) is None


def read_notice(path: str | Path) -> tuple[PlaceholderInfo, bytes] | None:
    """The notice's content and the file's bytes when ``path`` is a substitute notice, else None.

    Raises OSError when the file cannot be read.
    """
    with open(path, "rb") as handle:
        head = handle.read(_CHUNK)
        end = _header_end(head)
        while end < 0 and len(head) < _HEADER_LIMIT:
            more = handle.read(_CHUNK)
            if not more:
                break
            head += more
            end = _header_end(head)
        block = head[:end] if end >= 0 else head
        if not _may_be_notice(block):
            return None
        data = head + handle.read(READ_LIMIT - len(head)) if len(head) < READ_LIMIT else head
        if handle.read(1):
            return None  # larger than any notice
    info = detect_placeholder(data)
    return (info, data) if info is not None else None


def same_content_in(maildir: Path, content: bytes) -> Path | None:
    """A message file in ``maildir`` (``new/`` or ``cur/``) whose bytes are exactly ``content``, if any."""
    for sub in ("new", "cur"):
        directory = maildir / sub
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if not entry.is_file(follow_symlinks=False) or entry.stat().st_size != len(content):
                    continue
                if Path(entry.path).read_bytes() == content:
                    return Path(entry.path)
            except OSError:
                continue
    return None
