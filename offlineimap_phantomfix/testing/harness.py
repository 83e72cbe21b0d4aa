"""Run the real ``offlineimap`` program against the emulator and read back what it wrote.

Nothing here imports offlineimap: the program runs as a subprocess with ``HOME`` pointed at a temporary
directory, so the user's own configuration and metadata are never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ACTIVATION_LINES",
    "LocalMessage",
    "OfflineimapSetup",
    "SyncResult",
    "normalise_newlines",
    "offlineimap_command",
    "offlineimap_env",
    "read_maildir",
    "run_offlineimap",
    "write_offlineimaprc",
]


@dataclass
class OfflineimapSetup:
    """Paths of one generated offlineimap configuration."""

    workdir: Path
    config: Path
    maildir: Path
    metadata: Path
    account: str
    pythonfile: Path | None = None


@dataclass
class SyncResult:
    """One offlineimap run: exit status and combined stdout+stderr (in order)."""

    returncode: int
    output: str
    args: list[str] = field(default_factory=list)

    def lines(self, needle: str) -> list[str]:
        """Output lines containing ``needle``."""
        return [line for line in self.output.splitlines() if needle in line]


@dataclass
class LocalMessage:
    """One message file in the local Maildir."""

    folder: str
    path: Path
    raw: bytes
    flags: str
    uid: int | None


def _section(name: str, options: Mapping[str, str]) -> str:
    lines = [f"[{name}]"]
    lines += [f"{key} = {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def write_offlineimaprc(
    workdir: Path,
    *,
    port: int,
    repo_type: str = "IMAP",
    user: str = "user",
    password: str = "secret",
    maxconnections: int = 1,
    account: str = "Test",
    remote_options: Mapping[str, str] | None = None,
    local_options: Mapping[str, str] | None = None,
    general_options: Mapping[str, str] | None = None,
    account_options: Mapping[str, str] | None = None,
    pythonfile_lines: Sequence[str] | None = None,
) -> OfflineimapSetup:
    """Write ``workdir/offlineimaprc`` for one account syncing the emulator on 127.0.0.1:``port``.

    ``*_options`` add to or override the generated keys of each section. With ``pythonfile_lines`` the
    lines are written to ``workdir/phantomfix_hook.py`` and named by ``[general] pythonfile``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    maildir = workdir / "Mail"
    metadata = workdir / "metadata"
    maildir.mkdir(exist_ok=True)
    general: dict[str, str] = {
        "accounts": account,
        "metadata": str(metadata),
        "maxsyncaccounts": "1",
        "ui": "basic",
    }
    pythonfile: Path | None = None
    if pythonfile_lines is not None:
        pythonfile = workdir / "phantomfix_hook.py"
        pythonfile.write_text("\n".join(pythonfile_lines) + "\n", encoding="utf-8")
        general["pythonfile"] = str(pythonfile)
    general.update(general_options or {})
    account_section: dict[str, str] = {
        "localrepository": f"{account}Local",
        "remoterepository": f"{account}Remote",
    }
    account_section.update(account_options or {})
    local: dict[str, str] = {"type": "Maildir", "localfolders": str(maildir)}
    local.update(local_options or {})
    remote: dict[str, str] = {
        "type": repo_type,
        "remotehost": "127.0.0.1",
        "remoteport": str(port),
        "remoteuser": user,
        "remotepass": password,
        "ssl": "no",
        "starttls": "no",
        "maxconnections": str(maxconnections),
        "holdconnectionopen": "no",
        "keepalive": "0",
    }
    remote.update(remote_options or {})
    text = "\n".join(
        [
            _section("general", general),
            _section(f"Account {account}", account_section),
            _section(f"Repository {account}Local", local),
            _section(f"Repository {account}Remote", remote),
        ]
    )
    config = workdir / "offlineimaprc"
    config.write_text(text, encoding="utf-8")
    return OfflineimapSetup(
        workdir=workdir,
        config=config,
        maildir=maildir,
        metadata=metadata,
        account=account,
        pythonfile=pythonfile,
    )


OFFLINEIMAP_ENV = "PHANTOMFIX_OFFLINEIMAP"
# The two lines a user puts in the file that ``[general] pythonfile`` names (pass as ``pythonfile_lines``).
ACTIVATION_LINES = ("import offlineimap_phantomfix", "offlineimap_phantomfix.install()")


def offlineimap_command() -> list[str]:
    """The ``offlineimap`` program under test: ``$PHANTOMFIX_OFFLINEIMAP`` when set (e.g. Debian's
    ``/usr/bin/offlineimap``), else the script installed next to the running interpreter."""
    chosen = os.environ.get(OFFLINEIMAP_ENV, "").strip()
    if chosen:
        return [chosen]
    script = Path(sys.executable).with_name("offlineimap")
    if not script.exists():
        raise FileNotFoundError(f"offlineimap is not installed next to {sys.executable}")
    return [str(script)]


def offlineimap_env(setup: OfflineimapSetup, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment offlineimap runs in: HOME is the work directory, and this very copy of
    ``offlineimap_phantomfix`` comes first on PYTHONPATH so a ``pythonfile`` can import it, installed or not."""
    run_env = dict(os.environ)
    run_env.update({"HOME": str(setup.workdir), "PYTHONUNBUFFERED": "1", "LC_ALL": "C.UTF-8"})
    run_env.pop("XDG_CONFIG_HOME", None)
    source_root = str(Path(__file__).resolve().parents[2])
    paths = [p for p in run_env.get("PYTHONPATH", "").split(os.pathsep) if p]
    run_env["PYTHONPATH"] = os.pathsep.join([source_root, *(p for p in paths if p != source_root)])
    if extra:
        run_env.update(extra)
    return run_env


def run_offlineimap(
    setup: OfflineimapSetup,
    *extra: str,
    command: Sequence[str] | None = None,
    timeout: float = 180,
    env: Mapping[str, str] | None = None,
) -> SyncResult:
    """Run ``<command> -c <config> -o -u basic *extra`` with HOME=workdir; never raises on a non-zero exit.

    The directory holding this ``offlineimap_phantomfix`` package is put first on PYTHONPATH, so a
    ``[general] pythonfile`` can import it even when the package is not (or not properly) installed.

    A run that exceeds ``timeout`` is killed and reported with return code -9 and the output so far.
    """
    args = [*(command if command is not None else offlineimap_command())]
    args += ["-c", str(setup.config), "-o", "-u", "basic", *extra]
    run_env = offlineimap_env(setup, env)
    try:
        proc = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=run_env,
            cwd=str(setup.workdir),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output or b""
        text = out.decode("utf-8", errors="replace") if isinstance(out, bytes) else str(out)
        return SyncResult(returncode=-9, output=text + "\n[harness: killed after timeout]\n", args=args)
    return SyncResult(
        returncode=proc.returncode, output=proc.stdout.decode("utf-8", errors="replace"), args=args
    )


_UID_IN_NAME = re.compile(r",U=(\d+)")


def read_maildir(root: Path) -> dict[str, list[LocalMessage]]:
    """Every folder under ``root`` (a Maildir++/offlineimap tree), messages from cur/ and new/ sorted by UID.

    The folder name is the path relative to ``root`` ("INBOX", "Archive", "a/b"); ``flags`` is the part
    after ``:2,`` in the file name; ``uid`` is parsed from offlineimap's ``,U=<n>``.
    """
    root = Path(root)
    result: dict[str, list[LocalMessage]] = {}
    if not root.is_dir():
        return result
    for cur in sorted(root.rglob("cur")):
        folder_dir = cur.parent
        if not (folder_dir / "new").is_dir() or not (folder_dir / "tmp").is_dir():
            continue
        name = folder_dir.relative_to(root).as_posix()
        messages: list[LocalMessage] = []
        for sub in ("cur", "new"):
            for path in sorted((folder_dir / sub).iterdir()):
                if not path.is_file() or path.name.startswith("."):
                    continue
                base, _, info = path.name.partition(":2,")
                match = _UID_IN_NAME.search(base)
                messages.append(
                    LocalMessage(
                        folder=name,
                        path=path,
                        raw=path.read_bytes(),
                        flags=info,
                        uid=int(match.group(1)) if match else None,
                    )
                )
        messages.sort(key=lambda m: (m.uid is None, m.uid or 0, m.path.name))
        result[name] = messages
    return result


def normalise_newlines(data: bytes) -> bytes:
    """CRLF (and lone CR) to LF, for comparing server bytes with Maildir files."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
