"""A throw-away Dovecot IMAP server on 127.0.0.1 for end-to-end tests against a real server.

``DovecotServer`` writes a self-contained ``dovecot.conf`` into a temporary directory (no include of
``/etc/dovecot``), starts the system's ``dovecot`` binary with it, and stops it again with
``doveadm -c CONF stop``. Mail lives in a Maildir tree inside the temporary directory
(``LAYOUT=fs``: nested folders are nested directories, the hierarchy separator is ``/``, non-ASCII folder
names are stored in modified UTF-7 like they travel on the wire) and is owned by an unprivileged account,
so a message file made unreadable with ``chmod 000`` really is unreadable to the mail process: a real
fault, not an emulated one.

Where things are:

- ``host``: the programs, the unprivileged mail account, whether Dovecot can run here at all;
- ``config``: writing ``dovecot.conf`` and the ``passwd`` file;
- ``process``: ``DovecotServer`` itself and its life cycle (start, reload, reset, stop, the log);
- ``maildir``: populating the Maildir tree (folders, subscriptions, message files);
- ``faults``: making message files unreadable to the server;
- ``client``: reading folders and messages back over IMAP;
- ``names``: pure flag and folder-name conversions.

Nothing here imports pytest; the fixtures live in ``tests/dovecot/conftest.py``.
"""

from __future__ import annotations

from .client import ServerMessage
from .host import DOVECOT_ENV, DovecotError, dovecot_available
from .names import MAILDIR_FLAGS, imap_flags_to_maildir, imap_utf7_decode, imap_utf7_encode, maildir_flags_to_imap
from .process import DovecotServer

__all__ = [
    "DOVECOT_ENV",
    "MAILDIR_FLAGS",
    "DovecotError",
    "DovecotServer",
    "ServerMessage",
    "dovecot_available",
    "imap_flags_to_maildir",
    "imap_utf7_decode",
    "imap_utf7_encode",
    "maildir_flags_to_imap",
]
