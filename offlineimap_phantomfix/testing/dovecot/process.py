"""``DovecotServer``: one Dovecot instance run from a temporary directory, and its life cycle (start,
reload, reset, stop) driven through the ``dovecot`` and ``doveadm`` programs.

The configuration files, the Maildir tree, the file faults and the IMAP reads come from the mix-ins in
this package; this module owns the processes and the log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .client import ImapClient
from .config import ConfigFiles
from .faults import FileFaults
from .host import DovecotError, dovecot_available, mail_account, programs

__all__ = ["DovecotServer"]

_SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


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


class DovecotServer(ConfigFiles, FileFaults, ImapClient):
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
        self.uid, self.gid, self.account = mail_account()
        self.dovecot_program, self.doveadm_program, self.doveconf_program = programs()
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

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c CONF <args>`` (``-u <user>`` is not added: pass it for mail commands)."""
        return self._run([self.doveadm_program, "-c", str(self.config_path), *args], check=check)

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
