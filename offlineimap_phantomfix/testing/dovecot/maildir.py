"""The user's mail on disk, written straight into the Maildir tree Dovecot serves (``LAYOUT=fs``: nested
folders are nested directories, non-ASCII names are stored in modified UTF-7 as they travel on the wire),
owned by the unprivileged mail account.

A mix-in of :class:`~offlineimap_phantomfix.testing.dovecot.DovecotServer`; the attributes below are set by
its constructor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .names import imap_utf7_encode, normalise_letters

__all__ = ["MaildirFiles"]


class MaildirFiles:
    """Folders, subscriptions and message files of the server's one user."""

    mail_root: Path
    user: str
    uid: int
    gid: int
    hostname: str
    _counter: int

    @property
    def user_root(self) -> Path:
        return self.mail_root / self.user

    def maildir(self, folder: str) -> Path:
        """The server-side Maildir of ``folder`` ("INBOX", "Archive/2024", "Entwürfe")."""
        if folder.upper() == "INBOX":
            return self.user_root / "INBOX"
        parts = [imap_utf7_encode(part) for part in folder.split("/")]
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"bad folder name {folder!r}")
        return self.user_root.joinpath(*parts)

    def create_folder(self, folder: str, *, subscribe: bool = True) -> Path:
        """Create ``folder`` (and its parents, as real mailboxes) directly on disk."""
        parts = folder.split("/")
        path = self.maildir(folder)
        self._make_dir(self.user_root)
        for depth in range(1, len(parts) + 1):
            sub = self.maildir("/".join(parts[:depth]))
            self._make_dir(sub)
            for name in ("cur", "new", "tmp"):
                self._make_dir(sub / name)
            if subscribe:
                self.subscribe("/".join(parts[:depth]))
        return path

    def _make_dir(self, path: Path) -> None:
        if not path.is_dir():
            path.mkdir(mode=0o700)
            os.chown(path, self.uid, self.gid)

    def subscribe(self, folder: str) -> None:
        """Add ``folder`` to the subscriptions file (Dovecot's format: a version line, then names)."""
        self._make_dir(self.user_root)
        path = self.user_root / "subscriptions"
        names: list[str] = []
        if path.exists():
            names = [n for n in path.read_text(encoding="utf-8").splitlines()[1:] if n]
        if folder not in names:
            names.append(folder)
            path.write_text("V\t2\n\n" + "".join(f"{n}\n" for n in names), encoding="utf-8")
            os.chown(path, self.uid, self.gid)

    def populate(
        self,
        folder: str,
        messages: Iterable[bytes],
        *,
        flags: str | Sequence[str] | Callable[[int], str] = "",
    ) -> list[Path]:
        """Write ``messages`` straight into ``folder``'s Maildir ``cur/`` (creating the folder).

        File names are ``<time>.<n>.<host>,S=<size>,W=<crlf size>:2,<flags>``; the bytes are stored with LF
        line endings (Dovecot sends CRLF). ``flags`` are Maildir letters (``"FS"``): one string for every
        message, a sequence (one per message), or a function of the message's index. Dovecot assigns UIDs
        in file-name order on its next look, i.e. in the order given here. Returns the files written.
        """
        cur = self.create_folder(folder) / "cur"
        stamp = int(time.time())
        written: list[Path] = []
        for index, raw in enumerate(messages):
            if callable(flags):
                letters = flags(index)
            elif isinstance(flags, str):
                letters = flags
            else:
                letters = flags[index]
            data = raw.replace(b"\r\n", b"\n")
            wire = data.count(b"\n") + len(data)
            self._counter += 1
            name = (
                f"{stamp:010d}.{self._counter:08d}.{self.hostname},S={len(data)},W={wire}"
                f":2,{normalise_letters(letters)}"
            )
            path = cur / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fchown(fd, self.uid, self.gid)
            finally:
                os.close(fd)
            written.append(path)
        return written

    def message_files(self, folder: str) -> list[Path]:
        """The message files of ``folder`` (cur/ and new/), in UID order for files written by
        :meth:`populate` (sorted by the base name, which does not change with the flags)."""
        root = self.maildir(folder)
        files = [p for sub in ("cur", "new") if (root / sub).is_dir() for p in (root / sub).iterdir()]
        return sorted(files, key=lambda p: p.name.split(":", 1)[0])
