"""Real faults on a real server: a message file made unreadable with ``chmod 000`` really is unreadable to
the (unprivileged) mail process, so Dovecot lists the message and then fails to deliver it.

A mix-in of :class:`~offlineimap_phantomfix.testing.dovecot.DovecotServer`.
"""

from __future__ import annotations

from pathlib import Path

from .maildir import MaildirFiles

__all__ = ["FileFaults"]


class FileFaults(MaildirFiles):
    """Make message files unreadable to the server, and readable again."""

    def make_unreadable(self, folder: str, index_or_filename: int | str | Path) -> Path:
        """``chmod 000`` one message file: by index (0-based, in :meth:`message_files` order), by file name
        or base name (the part before ``:2,``), or by path. Returns the file."""
        path = self._find_file(folder, index_or_filename)
        path.chmod(0)
        return path

    def make_readable(self, folder: str, index_or_filename: int | str | Path) -> Path:
        """Undo :meth:`make_unreadable`."""
        path = self._find_file(folder, index_or_filename)
        path.chmod(0o600)
        return path

    def _find_file(self, folder: str, which: int | str | Path) -> Path:
        files = self.message_files(folder)
        if isinstance(which, int):
            return files[which]
        name = Path(which).name
        base = name.split(":", 1)[0]
        for path in files:
            if path.name == name or path.name.split(":", 1)[0] == base:
                return path
        raise FileNotFoundError(f"no message file {name!r} in {folder!r}")
