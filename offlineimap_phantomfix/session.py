"""Glue: open an IMAP connection for an account exactly as offlineimap does, and record what is said on it.

:func:`open_session` builds offlineimap's own ``Account`` and remote repository from the user's offlineimaprc,
so host, port, ``ssl``/``starttls``, certificates, ``auth_mechanisms``, ``remotepass``/``remotepassfile``/
``remotepasseval`` (with ``[general] pythonfile``), netrc and ``socktimeout`` all behave as in a sync, and
takes connections from that repository's ``IMAPServer`` pool. offlineimap runs with a quiet UI of ours: it
never prompts for a password (no password configured is a one-line :class:`ConfigError`) and never prints.

Every byte sent and received on those connections goes through a :class:`Transcript`, which turns it into a
readable, redacted session log (``C:``/``S:`` lines, literals as size plus a short excerpt, LOGIN and
AUTHENTICATE arguments replaced by ``<redacted>``, the password scrubbed from everything).

The :class:`Transcript` part is pure (bytes in, text out); offlineimap is imported only when a session opens.
"""

from __future__ import annotations

import base64
import logging
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from offlineimap_phantomfix.errors import ConfigError, NotFoundError, PhantomFixError, ServerError
from offlineimap_phantomfix.imapconn import imap_call
from offlineimap_phantomfix.responses import FetchResponse, locate_uid, search_has_uid, server_words
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = [
    "REDACTED",
    "FolderState",
    "Session",
    "Transcript",
    "locate",
    "open_session",
    "select_folder",
]

REDACTED = "<redacted>"
DEFAULT_TIMEOUT = 60.0  # seconds without an answer before a connection counts as dropped (no socktimeout)
EXCERPT_LINES = 8
EXCERPT_BYTES = 4096
LINE_LIMIT = 400
MIN_SECRET = 3  # shorter secrets are only redacted where they are sent (scrubbing them would garble all text)

_LITERAL_MARK = re.compile(rb"\{(\d+)\+?\}\r?\n\Z")
_FIRST_WORDS = re.compile(rb"\A(\S+)(?: (\S+))?(?: (\S+))?")


# --- the transcript (pure) ----------------------------------------------------------------------------------

class _Stream:
    """Splits one direction of one connection into lines and literals as bytes arrive in any chunks."""

    def __init__(self, on_line: Callable[[bytes, int | None], None], on_literal: Callable[[bytes, int], None]):
        self._on_line = on_line
        self._on_literal = on_literal
        self._buffer = bytearray()
        self._literal_left = 0
        self._literal_size = 0
        self._excerpt = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            if self._literal_left > 0:
                take = min(self._literal_left, len(self._buffer))
                room = EXCERPT_BYTES - len(self._excerpt)
                if room > 0:
                    self._excerpt += self._buffer[: min(take, room)]
                del self._buffer[:take]
                self._literal_left -= take
                if self._literal_left == 0:
                    self._end_literal()
                continue
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > 1 << 20:  # a hostile endless line: show it cut, do not hoard it
                    self._on_line(bytes(self._buffer[:LINE_LIMIT]), None)
                    self._buffer.clear()
                return
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            match = _LITERAL_MARK.search(line)
            size = int(match.group(1)) if match else None
            self._on_line(line.rstrip(b"\r\n"), size)
            if size is not None:
                self._literal_size = size
                self._literal_left = size
                self._excerpt = bytearray()
                if size == 0:
                    self._end_literal()

    def _end_literal(self) -> None:
        self._on_literal(bytes(self._excerpt), self._literal_size)
        self._excerpt = bytearray()


def literal_excerpt(excerpt: bytes, size: int, *, max_lines: int = EXCERPT_LINES) -> list[str]:
    """Cleaned first lines of a literal (up to the end of its header block), then its size."""
    shown: list[str] = []
    lines = excerpt.replace(b"\r\n", b"\n").split(b"\n")
    for raw in lines[:max_lines]:
        if not raw.strip():
            break
        folded = raw[:1] in (b" ", b"\t")
        text = clean_text(raw, limit=120)
        shown.append(("  " if folded else "") + text)
    total = excerpt.count(b"\n") + (0 if excerpt.endswith(b"\n") else 1) if excerpt else 0
    more = "" if size <= len(excerpt) else "+"
    summary = f"[literal: {size} bytes"
    if shown:
        summary += f", first {len(shown)} of {total}{more} lines shown"
    return [f"| {line}" for line in shown] + [summary + "]"]


class _ConnectionLog:
    """What one connection said, both directions, feeding the shared transcript."""

    def __init__(self, transcript: Transcript, number: int) -> None:
        self.transcript = transcript
        self.number = number
        self._client = _Stream(self._client_line, self._client_literal)
        self._server = _Stream(self._server_line, self._server_literal)
        self._client_in_command = False  # inside a command that continues after a literal
        self._client_swallow = False  # the rest of this command is redacted (LOGIN)
        self._auth_tag: bytes | None = None  # AUTHENTICATE in progress: client lines are credentials

    def client(self, data: bytes) -> None:
        with self.transcript.lock:
            self._client.feed(data)

    def server(self, data: bytes) -> None:
        with self.transcript.lock:
            self._server.feed(data)

    # client side
    def _client_line(self, line: bytes, literal: int | None) -> None:
        t = self.transcript
        if self._client_in_command:
            if not self._client_swallow:
                t._add("C:", clean_text(line, limit=LINE_LIMIT))
        elif self._auth_tag is not None:
            t._add("C:", REDACTED)
        else:
            self._client_swallow = False
            match = _FIRST_WORDS.match(line)
            tag, command, mechanism = match.groups() if match else (None, None, None)
            name = (command or b"").upper()
            shown_tag = t._tag(tag) if tag is not None else ""
            if name == b"LOGIN":
                t._add("C:", f"{shown_tag} LOGIN {REDACTED} {REDACTED}")
                self._client_swallow = True
            elif name == b"AUTHENTICATE":
                shown = f"{shown_tag} AUTHENTICATE {clean_text(mechanism or b'', limit=40)}".rstrip()
                if len(line.split()) > 3 or literal is not None:
                    shown += f" {REDACTED}"  # SASL initial response
                t._add("C:", shown)
                self._client_swallow = True
                self._auth_tag = tag
            else:
                rest = line[len(tag):] if tag is not None else line
                t._add("C:", f"{shown_tag} {clean_text(rest, limit=LINE_LIMIT)}".strip())
        self._client_in_command = literal is not None
        if literal is None and self._auth_tag is None:
            self._client_swallow = False

    def _client_literal(self, excerpt: bytes, size: int) -> None:
        if self._client_swallow or self._auth_tag is not None:
            return
        for line in literal_excerpt(excerpt, size):
            self.transcript._add("C:", "  " + line)

    # server side
    def _server_line(self, line: bytes, literal: int | None) -> None:
        t = self.transcript
        match = _FIRST_WORDS.match(line)
        first = match.group(1) if match else b""
        if first and first not in (b"*", b"+") and first in t._tags:
            status = (match.group(2) or b"").upper() if match else b""
            rest = line[len(first):]
            t._add("S:", f"{t._tags[first]} {clean_text(rest, limit=LINE_LIMIT)}".rstrip())
            if self._auth_tag is not None and first == self._auth_tag:
                self._auth_tag = None
                self._client_swallow = False
            if status in (b"NO", b"BAD"):
                t._last_failure[self.number] = clean_text(rest, limit=LINE_LIMIT).split(" ", 1)[-1]
        else:
            t._add("S:", clean_text(line, limit=LINE_LIMIT))
            if first == b"*" and match and (match.group(2) or b"").upper() == b"BYE":
                t.byes.append(clean_text(line[len(b"* BYE"):], limit=LINE_LIMIT))

    def _server_literal(self, excerpt: bytes, size: int) -> None:
        for line in literal_excerpt(excerpt, size):
            self.transcript._add("S:", "  " + line)


class Transcript:
    """A redacted log of IMAP sessions: ``C:`` client lines, ``S:`` server lines, ``#`` notes.

    Feed it raw bytes per connection (:meth:`connection`), add notes, and :meth:`render` it. Tags are renumbered
    ``a001``, ``a002``, ... in the order the commands were sent, across all connections. LOGIN arguments and
    everything sent during AUTHENTICATE are never recorded; :meth:`add_secret` values are also scrubbed from
    every line (server text and notes included) when rendering. Thread-safe.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._lines: list[str] = []
        self._tags: dict[bytes, str] = {}
        self._secrets: set[str] = set()
        self._connections = 0
        self._last_failure: dict[int, str] = {}
        self.byes: list[str] = []

    # feeding
    def connection(self, description: str = "") -> _ConnectionLog:
        with self.lock:
            self._connections += 1
            number = self._connections
            self.note(f"connection {number}" + (f": {description}" if description else ""))
            return _ConnectionLog(self, number)

    def note(self, text: str) -> None:
        with self.lock:
            for line in str(text).splitlines() or [""]:
                self._lines.append("# " + clean_text(line, limit=LINE_LIMIT) if line else "#")

    def add_secret(self, secret: str | None, *, user: str | None = None) -> None:
        """Scrub ``secret`` (and the forms it is sent in) from everything rendered."""
        if not secret:
            return
        with self.lock:
            variants = {secret, secret.replace("\\", "\\\\").replace('"', '\\"')}
            for authz in ("", user or ""):
                blob = f"{authz}\0{user or ''}\0{secret}".encode()
                variants.add(base64.b64encode(blob).decode("ascii"))
            self._secrets.update(v for v in variants if len(v) >= MIN_SECRET)

    def _tag(self, tag: bytes) -> str:
        if tag not in self._tags:
            self._tags[tag] = f"a{len(self._tags) + 1:03d}"
        return self._tags[tag]

    def _add(self, prefix: str, text: str) -> None:
        self._lines.append(f"{prefix} {text}".rstrip())

    # reading
    def last_failure(self) -> str:
        """The text of the most recent tagged NO/BAD (scrubbed), or ''."""
        with self.lock:
            if not self._last_failure:
                return ""
            return self.scrub(self._last_failure[max(self._last_failure)])

    def failures(self) -> list[str]:
        with self.lock:
            return [self.scrub(self._last_failure[key]) for key in sorted(self._last_failure)]

    def scrub(self, text: str) -> str:
        with self.lock:
            for secret in sorted(self._secrets, key=len, reverse=True):
                text = text.replace(secret, REDACTED)
        return text

    def render(self) -> str:
        with self.lock:
            return "\n".join(self.scrub(line) for line in self._lines) + ("\n" if self._lines else "")


# --- recording offlineimap's connections ----------------------------------------------------------------------

_current = threading.local()
_patch_lock = threading.Lock()
_patch_count = 0
_patched: dict[str, Any] = {}
_CONNECTION_CLASSES = ("WrappedIMAP4", "WrappedIMAP4_SSL", "IMAP4_Tunnel")


class _RecordingMixin:
    """Put in front of offlineimap's imaplib2 classes: every byte read or sent goes to the transcript that
    was current in the thread that created the connection (none: nothing is recorded)."""

    _phantomfix_log: _ConnectionLog | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        transcript: Transcript | None = getattr(_current, "transcript", None)
        description: str = getattr(_current, "description", "")
        self._phantomfix_log = transcript.connection(description) if transcript is not None else None
        super().__init__(*args, **kwargs)

    def read(self, size: int) -> bytes:
        data: bytes = super().read(size)  # type: ignore[misc]
        log = self._phantomfix_log
        if log is not None and data:
            log.server(bytes(data))
        return data

    def send(self, data: bytes) -> None:
        log = self._phantomfix_log
        if log is not None:
            log.client(bytes(data))
        super().send(data)  # type: ignore[misc]


@contextmanager
def _recording(transcript: Transcript, description: str) -> Iterator[None]:
    """While active, connections offlineimap opens in this thread are recorded into ``transcript``."""
    global _patch_count
    from offlineimap import imaplibutil

    with _patch_lock:
        if _patch_count == 0:
            for name in _CONNECTION_CLASSES:
                original = getattr(imaplibutil, name)
                _patched[name] = original
                setattr(imaplibutil, name, type(f"Recording{name}", (_RecordingMixin, original), {}))
        _patch_count += 1
    previous = getattr(_current, "transcript", None), getattr(_current, "description", "")
    _current.transcript, _current.description = transcript, description
    try:
        yield
    finally:
        _current.transcript, _current.description = previous
        with _patch_lock:
            _patch_count -= 1
            if _patch_count == 0:
                for name, original in _patched.items():
                    setattr(imaplibutil, name, original)
                _patched.clear()


# --- offlineimap's UI, quiet --------------------------------------------------------------------------------

class _NoteHandler(logging.Handler):
    def __init__(self, transcript: Transcript) -> None:
        super().__init__(logging.WARNING)
        self.transcript = transcript
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed log call inside offlineimap must not break the probe
            text = str(record.msg)
        self.messages.append(text)
        self.transcript.note("offlineimap: " + text)


def _make_ui(parser: Any, transcript: Transcript) -> Any:
    from offlineimap.ui.UIBase import UIBase

    class QuietUI(UIBase):
        """offlineimap's UI for this helper: warnings become transcript notes; never prompts, never prints."""

        def setup_consolehandler(self) -> logging.Handler:
            handler = _NoteHandler(transcript)
            self.logger.addHandler(handler)
            return handler

        def getpass(self, username: Any, config: Any, errmsg: Any = None) -> str:
            raise _NoPassword()

    return QuietUI(parser, loglevel=logging.WARNING)


class _NoPassword(Exception):
    """offlineimap would have prompted for a password."""


# --- the session ----------------------------------------------------------------------------------------------

@dataclass
class FolderState:
    mailbox: str  # as sent to the server (quoted when needed)
    uidvalidity: int | None
    exists: int | None


class Session:
    """offlineimap's remote repository for one account, its connection pool, and the transcript."""

    def __init__(self, config: PhantomConfig, account: str, transcript: Transcript) -> None:
        self.config = config
        self.account_name = account
        self.transcript = transcript
        self.account: Any = None
        self.repository: Any = None
        self.server: Any = None
        self.host = ""
        self.port: int | str = ""
        self.user = ""
        self._held: list[Any] = []

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}" if self.host else "the tunnel"

    def _build(self) -> None:
        from offlineimap import OfflineImapError
        from offlineimap.accounts import Account
        from offlineimap.repository import Repository

        from offlineimap_phantomfix.activation import install

        install()
        try:
            self.account = Account(self.config.parser, self.account_name)
            self.repository = Repository(self.account, "remote")
        except OfflineImapError as error:
            raise ConfigError(f"account {self.account_name!r}: {_first_line(str(error))}") from None
        server = getattr(self.repository, "imapserver", None)
        if server is None:
            raise ConfigError(f"account {self.account_name!r}: the remote repository is not an IMAP repository")
        self.server = server
        self.host = str(server.hostname or "")
        self.port = server.port if server.port is not None else ""
        self.user = str(server.username or "")

    def imap_name(self, folder: str) -> str:
        """The mailbox name to send for an offlineimap folder name (utf8foldernames and quoting as a sync)."""
        from offlineimap import imaputil

        name = folder
        if getattr(self.account, "utf_8_support", False):
            name = imaputil.utf8_IMAP(name)
        return str(imaputil.foldername_to_imapname(name))

    def acquire(self) -> Any:
        """A logged-in connection from the pool (new ones are recorded). Raises ServerError/ConfigError."""
        from offlineimap import OfflineImapError

        transcript = self.transcript
        failures_before = len(transcript.failures())
        try:
            imapobj = self.server.acquireconnection()
        except _NoPassword:
            raise self._no_password("") from None
        except ModuleNotFoundError as error:
            if error.name != "keyring":  # offlineimap's last password source; without it, it crashes
                raise
            raise self._no_password(" (and the keyring module is not installed)") from None
        except OfflineImapError as error:
            raise self._connect_error(str(error), failures_before) from None
        except PhantomFixError:
            raise
        except Exception as error:  # imaplib2 abort/error, socket errors, ssl errors: all mean "cannot connect"
            raise self._connect_error(_describe(error), failures_before) from None
        finally:
            self._learn_password()
        self._held.append(imapobj)
        return imapobj

    def _no_password(self, extra: str) -> ConfigError:
        return ConfigError(
            f"no password for {self.user or 'the user'} at {self.where} in the configuration "
            f"(remotepass, remotepassfile, remotepasseval or netrc){extra}; offlineimap-phantomfix cannot prompt")

    def _learn_password(self) -> None:
        server = self.server
        for value in (getattr(server, "password", None), getattr(server, "goodpassword", None)):
            if isinstance(value, str):
                self.transcript.add_secret(value, user=self.user)

    def _connect_error(self, text: str, failures_before: int) -> PhantomFixError:
        transcript = self.transcript
        failures = transcript.failures()[failures_before:]
        tried_login = "authentication" in text.lower() or "login" in text.lower()
        if failures and tried_login:
            words = "; ".join(dict.fromkeys(failures))
            return ServerError(f"login to {self.where} as {self.user} failed: {words}")
        if tried_login:
            return ServerError(f"login to {self.where} as {self.user} failed: {transcript.scrub(_first_line(text))}")
        if "refused" in text.lower():
            return ServerError(f"cannot connect to {self.where}: connection refused")
        return ServerError(f"cannot connect to {self.where}: {transcript.scrub(_first_line(text))}")

    def release(self, imapobj: Any, *, broken: bool = False) -> None:
        """Hand a connection back to the pool; a broken (or terminated) one is logged out and forgotten."""
        if imapobj in self._held:
            self._held.remove(imapobj)
        dead = broken or bool(getattr(imapobj, "Terminate", False))
        try:
            self.server.releaseconnection(imapobj, dead)
        except Exception:  # logging out of a dead connection may fail; it is gone either way
            pass

    def close(self) -> None:
        for imapobj in list(self._held):
            self.release(imapobj, broken=True)
        if self.server is not None:
            try:
                self.server.close()
            except Exception:  # best effort: the connections are being dropped anyway
                pass


def _describe(error: BaseException) -> str:
    """An exception as words, also when it has no message (rfc6555 raises a bare ``OSError`` with errno)."""
    errno_value = getattr(error, "errno", None)
    if isinstance(error, OSError) and not str(error) and isinstance(errno_value, int):
        import os

        return os.strerror(errno_value)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return clean_text(" ".join(lines), limit=300) if lines else ""


def _socket_timeout(parser: Any) -> float:
    try:
        configured = int(parser.getdefaultint("general", "socktimeout", 0))
    except (ValueError, TypeError):
        configured = 0
    return float(configured) if configured > 0 else DEFAULT_TIMEOUT


@contextmanager
def open_session(config: PhantomConfig, account: str, *, description: str = "") -> Iterator[Session]:
    """A :class:`Session` for ``account``; its connections are recorded and all closed on exit.

    While it is open, offlineimap's global UI is ours and the module-level socket timeout is the configured
    ``socktimeout`` (or :data:`DEFAULT_TIMEOUT`); both are restored afterwards.
    """
    from offlineimap.ui import UIBase as uibase

    config.check_account(account)
    parser = config.parser
    for option in ("dry-run", "ignore-keyring", "update-keyring"):  # what offlineimap's init sets by default
        parser.set_if_not_exists("general", option, "False")
    transcript = Transcript()
    previous_ui = uibase.getglobalui() if hasattr(uibase, "globalui") else None
    logger = logging.getLogger("OfflineImap")
    previous_level = logger.level
    ui = _make_ui(parser, transcript)
    uibase.setglobalui(ui)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_socket_timeout(parser))
    session = Session(config, account, transcript)
    try:
        with _recording(transcript, description):
            session._build()
            _current.description = description or f"to {session.where}"
            try:
                yield session
            finally:
                session.close()
    finally:
        socket.setdefaulttimeout(previous_timeout)
        logger.removeHandler(ui._log_con_handler)
        logger.setLevel(previous_level)
        # imaplib2's reader thread of a connection just logged out may still log through the global UI: never
        # leave None behind (its handler is gone, so whatever it says goes nowhere).
        uibase.setglobalui(previous_ui if previous_ui is not None else ui)


# --- small IMAP helpers shared by probe and purge -----------------------------------------------------------

def select_folder(session: Session, imapobj: Any, folder: str, *, readonly: bool) -> FolderState:
    """EXAMINE (``readonly``) or SELECT ``folder``. Unknown folder: NotFoundError; other refusals: ServerError."""
    from offlineimap import OfflineImapError

    mailbox = session.imap_name(folder)
    verb = "EXAMINE" if readonly else "SELECT"
    try:
        result = imapobj.select(mailbox, readonly=readonly, force=True)
    except imapobj.abort as error:
        raise ServerError(f"{verb} {folder} on {session.where}: the server closed the connection: "
                          f"{session.transcript.scrub(clean_text(str(error), limit=200))}") from None
    except (imapobj.error, imapobj.readonly, OfflineImapError) as error:
        listed = _folder_listed(imapobj, mailbox)
        words = session.transcript.last_failure() or clean_text(_first_line(str(error)), limit=200)
        if listed is False:
            raise NotFoundError(f"no folder {folder!r} on {session.where} (server said: {words})") from None
        raise ServerError(f"{verb} {folder} on {session.where} failed: {words}") from None
    if result is None or result[0] != "OK":
        raise ServerError(f"{verb} {folder} on {session.where} failed: {server_words('', result[1] if result else [])}")
    uidvalidity = _number(imapobj.response("UIDVALIDITY"))
    exists = _number(("OK", result[1]))
    return FolderState(mailbox, uidvalidity, exists)


def _number(response: Any) -> int | None:
    try:
        _typ, data = response
        values = [item for item in data if isinstance(item, (bytes, str))]
        if values:
            return int(values[-1])
    except (TypeError, ValueError):
        pass
    return None


def _folder_listed(imapobj: Any, mailbox: str) -> bool | None:
    """Does LIST name ``mailbox``? None when that cannot be told."""
    try:
        typ, data = imapobj.list('""', mailbox)
    except Exception:
        return None
    if typ != "OK":
        return None
    return any(item is not None for item in data)


def locate(imapobj: Any, uid: int) -> FetchResponse | None:
    """``UID FETCH uid (UID FLAGS)``, then ``UID SEARCH UID uid``: the response for ``uid`` (with its sequence
    number and flags), or None when the UID is not in the selected folder. Raises :class:`ConnectionDropped`."""
    typ, data = imap_call(imapobj, "uid", "FETCH", str(uid), "(UID FLAGS)")
    found = locate_uid(data, uid) if typ == "OK" else None
    if found is not None:
        return found
    typ, data = imap_call(imapobj, "uid", "SEARCH", "UID", str(uid))
    if typ == "OK" and search_has_uid(data, uid):
        return FetchResponse(msn=0)  # listed by SEARCH although FETCH said nothing: sequence number unknown
    return None


def uid_set(imapobj: Any, *criteria: str) -> set[int]:
    """``UID SEARCH <criteria>`` as a set of UIDs. Raises ServerError when the server refuses."""
    typ, data = imap_call(imapobj, "uid", "SEARCH", *criteria)
    if typ != "OK":
        raise ServerError(f"UID SEARCH {' '.join(criteria)} failed: {server_words('', data)}")
    found: set[int] = set()
    for item in data:
        if isinstance(item, bytes):
            found.update(int(word) for word in item.split() if word.isdigit())
    return found
