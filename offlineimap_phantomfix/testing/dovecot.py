"""A throw-away Dovecot IMAP server on 127.0.0.1 for end-to-end tests against a real server.

``DovecotServer`` writes a self-contained ``dovecot.conf`` into a temporary directory (no include of
``/etc/dovecot``), starts the system's ``dovecot`` binary with it, and stops it again with
``doveadm -c CONF stop``. Mail lives in a Maildir tree inside the temporary directory
(``LAYOUT=fs``: nested folders are nested directories, the hierarchy separator is ``/``, non-ASCII folder
names are stored in modified UTF-7 like they travel on the wire) and is owned by an unprivileged account,
so a message file made unreadable with ``chmod 000`` really is unreadable to the mail process: a real
fault, not an emulated one.

Nothing here imports pytest; the fixtures live in ``tests/dovecot/conftest.py``.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DovecotError",
    "DovecotServer",
    "ServerMessage",
    "dovecot_available",
    "imap_flags_to_maildir",
    "imap_utf7_decode",
    "imap_utf7_encode",
    "maildir_flags_to_imap",
]

#: Set to the path of the ``dovecot`` binary to use another installation (or a missing path to test the
#: "Dovecot not available" handling); ``doveadm`` and ``doveconf`` are looked up next to it, then on PATH.
DOVECOT_ENV = "PHANTOMFIX_DOVECOT"
_LIBEXEC_DIRS = ("/usr/lib/dovecot", "/usr/libexec/dovecot")


def _programs() -> tuple[str, str, str]:
    dovecot = os.environ.get(DOVECOT_ENV, "").strip() or shutil.which("dovecot") or "/usr/sbin/dovecot"
    found: list[str] = []
    for name in ("doveadm", "doveconf"):
        beside = Path(dovecot).with_name(name)
        found.append(str(beside) if beside.exists() else shutil.which(name) or f"/usr/bin/{name}")
    return dovecot, found[0], found[1]

#: Maildir info letters and the IMAP system flags they stand for.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
_IMAP_TO_LETTER = {flag.lower(): letter for letter, flag in MAILDIR_FLAGS.items()}

#: Unprivileged accounts tried, in order, for the mail processes: (user, group).
_MAIL_ACCOUNTS = (("nobody", "nogroup"), ("nobody", "nobody"), ("dovecot", "dovecot"))

_SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


class DovecotError(RuntimeError):
    """Raised when Dovecot cannot be configured, started, reloaded or stopped; the message carries the
    command's output and the tail of the Dovecot log."""


@dataclass(frozen=True)
class ServerMessage:
    """One message as the server reports it over IMAP."""

    folder: str
    uid: int
    flags: frozenset[str]
    raw: bytes

    @property
    def maildir_flags(self) -> str:
        """The flags as Maildir info letters, sorted ("FS")."""
        return imap_flags_to_maildir(self.flags)


# -- small pure helpers ------------------------------------------------------------------------------


def imap_flags_to_maildir(flags: Iterable[str]) -> str:
    """``{"\\Seen", "\\Flagged"}`` -> ``"FS"``; keywords and \\Recent are left out."""
    return "".join(sorted({_IMAP_TO_LETTER[f.lower()] for f in flags if f.lower() in _IMAP_TO_LETTER}))


def maildir_flags_to_imap(letters: str) -> frozenset[str]:
    """``"FS"`` -> ``{"\\Flagged", "\\Seen"}``; unknown letters are ignored."""
    return frozenset(MAILDIR_FLAGS[c] for c in letters if c in MAILDIR_FLAGS)


def _normalise_letters(flags: str) -> str:
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


def _temp_base() -> str:
    """``/dev/shm`` when it is a writable directory (creating 10k files there takes ~0.1 s against ~3 s on
    this container's disk), else ``/tmp``. Both keep socket paths under ``base_dir`` short."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return "/tmp"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mail_account() -> tuple[int, int, str]:
    for user, group in _MAIL_ACCOUNTS:
        try:
            uid = pwd.getpwnam(user).pw_uid
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            continue
        if uid != 0 and gid != 0:
            return uid, gid, f"{user}:{group}"
    raise DovecotError("no unprivileged account (nobody/nogroup or dovecot) to run the mail processes as")


def dovecot_available() -> str | None:
    """``None`` when a throw-away Dovecot can be run here, otherwise the reason why not."""
    for program in _programs()[:2]:
        if not os.access(program, os.X_OK):
            return f"{program} not found or not executable (install Debian's dovecot-imapd)"
    proc = subprocess.run(
        [_programs()[0], "--build-options"], capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        return f"{_programs()[0]} --build-options failed: {(proc.stdout + proc.stderr).strip()[:300]}"
    if not any(Path(d, "imap").exists() for d in _LIBEXEC_DIRS):
        return f"Dovecot's imap binary not found in {' or '.join(_LIBEXEC_DIRS)} (install Debian's dovecot-imapd)"
    if os.geteuid() != 0:
        return "a throw-away Dovecot needs root here (it switches the mail processes to an unprivileged uid)"
    for user in ("dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"Dovecot's system user {user!r} does not exist"
    try:
        _mail_account()
    except DovecotError as exc:
        return str(exc)
    return None


# -- the server --------------------------------------------------------------------------------------


class DovecotServer:
    """One Dovecot instance, configured and run from a temporary directory.

    ``root`` defaults to a fresh short directory under ``/dev/shm`` (else ``/tmp``), removed again by
    :meth:`stop` when it was created here. Options given in ``options`` (or later with :meth:`set_option`)
    go into the top level of the generated configuration.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        user: str = "user",
        password: str = "secret",
        port: int | None = None,
        options: dict[str, str] | None = None,
        hostname: str = "dovecot-test",
        start_timeout: float = 20.0,
    ) -> None:
        self.uid, self.gid, self.account = _mail_account()
        self.dovecot_program, self.doveadm_program, self.doveconf_program = _programs()
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="dc-", dir=_temp_base())) if root is None else Path(root)
        self.host = "127.0.0.1"
        self.user = user
        self.password = password
        self.hostname = hostname
        self.start_timeout = start_timeout
        self._fixed_port = port
        self.port = port or 0
        self.options: dict[str, str] = dict(options or {})
        self.instance_name = f"phantomfix-{self.root.name}"
        self.base_dir = self.root / "run"
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.mail_root = self.root / "mail"
        self._counter = 0
        self._pid: int | None = None
        self._log_offset = 0

    # -- configuration -------------------------------------------------------------------------------

    def config_text(self) -> str:
        """The ``dovecot.conf`` this server runs with."""
        mail = self.mail_root
        lines = [
            "# generated by offlineimap_phantomfix.testing.dovecot; throw-away test server",
            f"base_dir = {self.base_dir}",
            f"state_dir = {self.root / 'state'}",
            f"instance_name = {self.instance_name}",
            "protocols = imap",
            "listen = 127.0.0.1",
            "ssl = no",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            f"log_path = {self.log_path}",
            f"info_log_path = {self.log_path}",
            f"debug_log_path = {self.log_path}",
            "auth_verbose = yes",
            f"first_valid_uid = {min(self.uid, 100)}",
            f"first_valid_gid = {min(self.gid, 100)}",
            f"mail_location = maildir:{mail}/%u:LAYOUT=fs:INBOX={mail}/%u/INBOX",
            "mail_fsync = never",
            "mailbox_idle_check_interval = 1 secs",
            "shutdown_clients = yes",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {self.root / 'passwd'}",
            "}",
            "userdb {",
            "  driver = passwd-file",
            f"  args = username_format=%u {self.root / 'passwd'}",
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            "    address = 127.0.0.1",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            "    port = 0",
            "  }",
            "}",
            "protocol imap {",
            "  mail_max_userip_connections = 50",
            "}",
        ]
        lines += [f"{name} = {value}" for name, value in self.options.items()]
        return "\n".join(lines) + "\n"

    def _write_config(self) -> None:
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    def _write_passwd(self) -> None:
        home = self.root / "home" / self.user
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, self.uid, self.gid)
        entry = f"{self.user}:{self.password}:{self.uid}:{self.gid}::{home}::\n"
        passwd = self.root / "passwd"
        passwd.write_text(entry, encoding="utf-8")
        passwd.chmod(0o644)

    # -- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Write the configuration, start ``dovecot -c CONF`` and wait for the IMAP greeting."""
        reason = dovecot_available()
        if reason is not None:
            raise DovecotError(reason)
        probe = self.base_dir / "imap-urlauth-worker"  # about the longest socket name Dovecot makes
        if len(os.fsencode(str(probe))) > _SUN_PATH_MAX - 8:
            raise DovecotError(f"base_dir {self.base_dir} is too long for unix socket paths")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the mail processes (unprivileged) must reach mail/ and the passwd file
        self.base_dir.mkdir(exist_ok=True)
        (self.root / "state").mkdir(exist_ok=True)
        self.mail_root.mkdir(exist_ok=True)
        os.chown(self.mail_root, self.uid, self.gid)
        self._write_passwd()
        self.log_path.touch()
        last_error = ""
        for _attempt in range(5):
            self.port = self._fixed_port or _free_port()
            self._write_config()
            returncode, output = self._start_master()
            if returncode != 0:
                last_error = f"dovecot exited {returncode}: {output.strip()}"
                if "Address already in use" in output and self._fixed_port is None:
                    continue
                break
            try:
                self._wait_for_greeting()
            except DovecotError as exc:
                last_error = str(exc)
                self._stop_processes()
                if "Address already in use" in self.log_text() and self._fixed_port is None:
                    continue
                break
            self._pid = self._read_pid()
            return
        raise DovecotError(f"{last_error}\n--- dovecot log ---\n{self._log_tail()}")

    def _start_master(self) -> tuple[int, str]:
        """Run ``dovecot -c CONF``; it daemonises, so its output goes to a file, not a pipe (the daemon would
        keep a pipe open forever)."""
        out_path = self.root / "startup.out"
        with out_path.open("wb") as out:
            proc = subprocess.run(
                [self.dovecot_program, "-c", str(self.config_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
                timeout=60,
            )
        return proc.returncode, out_path.read_text(encoding="utf-8", errors="replace")

    def _wait_for_greeting(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as sock:
                    greeting = sock.recv(4096)
                if greeting.startswith(b"* OK"):
                    return
                last = f"unexpected greeting {greeting[:200]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.05)
        raise DovecotError(f"no IMAP greeting on {self.host}:{self.port} within {self.start_timeout}s ({last})")

    def _read_pid(self) -> int | None:
        try:
            return int((self.base_dir / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop Dovecot (``doveadm stop``, then SIGKILL for anything left) and remove an own temp dir."""
        self._stop_processes()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _stop_processes(self) -> None:
        pid = self._read_pid() or self._pid
        ours = set(self._instance_pids(pid))
        if self.config_path.exists():
            self._run([self.doveadm_program, "-c", str(self.config_path), "stop"], check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pid is not None and _alive(pid):
            time.sleep(0.05)
        ours.update(self._instance_pids(pid))
        for leftover in sorted(ours):
            if _alive(leftover):
                with contextlib.suppress(OSError):
                    os.kill(leftover, signal.SIGKILL)
        self._pid = None

    def _instance_pids(self, master: int | None) -> list[int]:
        """Running processes of this instance: the master (its command line names our config), its
        children, and anything titled ``dovecot-<our instance_name>/...``."""
        title = f"dovecot-{self.instance_name}/".encode()
        found: list[int] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if (
                str(self.config_path).encode() in cmdline
                or cmdline.startswith(title)
                or (master is not None and ppid == master)
            ):
                found.append(int(entry.name))
        return found

    @property
    def running(self) -> bool:
        pid = self._read_pid()
        return pid is not None and _alive(pid)

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_option(self, name: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a top-level option and reload; new connections see it."""
        if value is None:
            self.options.pop(name, None)
        else:
            self.options[name] = value
        self._write_config()
        self.reload()

    def reload(self) -> None:
        """``doveadm reload`` and wait until the master has taken it (its "SIGHUP received" log line);
        connections made after that get processes started with the new configuration."""
        marker = "SIGHUP received - reloading configuration"
        before = self.log_text().count(marker)
        self._run([self.doveadm_program, "-c", str(self.config_path), "reload"])
        deadline = time.monotonic() + 10
        while self.log_text().count(marker) <= before:
            if time.monotonic() > deadline:
                raise DovecotError(f"Dovecot did not log a reload within 10s\n--- dovecot log ---\n{self._log_tail()}")
            time.sleep(0.02)
        time.sleep(0.1)  # the log line comes first; give the master a moment to restart its services
        self._wait_for_greeting()

    def config_value(self, name: str) -> str:
        """What ``doveconf -c CONF -h NAME`` makes of the generated file (not necessarily what a running
        master uses before :meth:`reload`)."""
        proc = self._run([self.doveconf_program, "-c", str(self.config_path), "-h", name], check=False)
        return proc.stdout.strip()

    def reset(self) -> None:
        """Between tests: drop sessions, remove the user's mail and restore the default options."""
        self.kick()
        changed = bool(self.options)
        self.options.clear()
        if self.mail_root.exists():
            for child in self.mail_root.iterdir():
                shutil.rmtree(child, ignore_errors=True)
        if changed:
            self._write_config()
            self.reload()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    def kick(self) -> None:
        """Disconnect every session of the user (``doveadm kick``)."""
        self._run([self.doveadm_program, "-c", str(self.config_path), "kick", self.user], check=False)

    # -- mail ----------------------------------------------------------------------------------------

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
                f":2,{_normalise_letters(letters)}"
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

    # -- talking to it -------------------------------------------------------------------------------

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c CONF <args>`` (``-u <user>`` is not added: pass it for mail commands)."""
        return self._run([self.doveadm_program, "-c", str(self.config_path), *args], check=check)

    @contextlib.contextmanager
    def imap(self, *, timeout: float = 30) -> Iterator[imaplib.IMAP4]:
        """A logged-in ``imaplib.IMAP4`` connection, logged out at the end."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=timeout)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def folders(self) -> list[str]:
        """Selectable folder names as the server LISTs them, decoded from modified UTF-7."""
        names: list[str] = []
        with self.imap() as conn:
            typ, data = conn.list()
            if typ != "OK":
                raise DovecotError(f"LIST failed: {data!r}")
            for item in data:
                if not isinstance(item, bytes):
                    continue
                match = re.match(rb'\(([^)]*)\) (?:"(?:\\.|[^"])*"|NIL) (.*)$', item)
                if match is None:
                    continue
                if b"\\noselect" in match.group(1).lower():
                    continue
                name = match.group(2).decode("ascii")
                if name.startswith('"') and name.endswith('"'):
                    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                names.append(imap_utf7_decode(name))
        return sorted(names)

    def fetch_all(self, folder: str, uids: Iterable[int] | None = None) -> list[ServerMessage]:
        """Every message of ``folder`` (or those with the given ``uids``) with UID, flags and full bytes,
        read over IMAP (EXAMINE). Leave a message made unreadable out through ``uids``: asking for it fails
        the whole command (or ends the connection)."""
        wanted = "1:*" if uids is None else ",".join(str(uid) for uid in sorted(set(uids)))
        quoted = '"' + imap_utf7_encode(folder).replace("\\", "\\\\").replace('"', '\\"') + '"'
        result: list[ServerMessage] = []
        with self.imap() as conn:
            typ, data = conn.select(quoted, readonly=True)
            if typ != "OK":
                raise DovecotError(f"EXAMINE {folder!r} failed: {data!r}")
            if int(data[0] or b"0") == 0 or not wanted:
                return result
            typ, data = conn.uid("FETCH", wanted, "(UID FLAGS BODY.PEEK[])")
            if typ != "OK":
                raise DovecotError(f"FETCH in {folder!r} failed: {data!r}")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode("ascii", "replace")
                uid_match = re.search(r"UID (\d+)", head)
                flag_match = re.search(r"FLAGS \(([^)]*)\)", head)
                if uid_match is None:
                    continue
                flags = frozenset(flag_match.group(1).split()) if flag_match else frozenset()
                result.append(ServerMessage(folder, int(uid_match.group(1)), flags - {"\\Recent"}, item[1]))
        return sorted(result, key=lambda m: m.uid)

    # -- logs ----------------------------------------------------------------------------------------

    def log_text(self, *, since_reset: bool = False) -> str:
        """The Dovecot log (all of it, or only what was written since the last :meth:`reset`)."""
        try:
            with self.log_path.open("rb") as handle:
                if since_reset:
                    handle.seek(self._log_offset)
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise DovecotError(
                f"{' '.join(args)} exited {proc.returncode}: {proc.stdout.strip()}\n--- dovecot log ---\n"
                f"{self._log_tail()}"
            )
        return proc

    def __repr__(self) -> str:
        return f"DovecotServer({self.host}:{self.port}, root={self.root})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
