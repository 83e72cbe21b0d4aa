"""What this machine offers a throw-away Dovecot: the programs, an unprivileged account for the mail
processes, and whether the whole thing can run here at all."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

__all__ = ["DOVECOT_ENV", "DovecotError", "dovecot_available", "mail_account", "programs"]

#: Set to the path of the ``dovecot`` binary to use another installation (or a missing path to test the
#: "Dovecot not available" handling); ``doveadm`` and ``doveconf`` are looked up next to it, then on PATH.
DOVECOT_ENV = "PHANTOMFIX_DOVECOT"
_LIBEXEC_DIRS = ("/usr/lib/dovecot", "/usr/libexec/dovecot")

#: Unprivileged accounts tried, in order, for the mail processes: (user, group).
_MAIL_ACCOUNTS = (("nobody", "nogroup"), ("nobody", "nobody"), ("dovecot", "dovecot"))


class DovecotError(RuntimeError):
    """Raised when Dovecot cannot be configured, started, reloaded or stopped; the message carries the
    command's output and the tail of the Dovecot log."""


def programs() -> tuple[str, str, str]:
    """The ``dovecot``, ``doveadm`` and ``doveconf`` programs to run."""
    dovecot = os.environ.get(DOVECOT_ENV, "").strip() or shutil.which("dovecot") or "/usr/sbin/dovecot"
    found: list[str] = []
    for name in ("doveadm", "doveconf"):
        beside = Path(dovecot).with_name(name)
        found.append(str(beside) if beside.exists() else shutil.which(name) or f"/usr/bin/{name}")
    return dovecot, found[0], found[1]


def mail_account() -> tuple[int, int, str]:
    """``(uid, gid, "user:group")`` of the first unprivileged account the mail processes can run as."""
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
    for program in programs()[:2]:
        if not os.access(program, os.X_OK):
            return f"{program} not found or not executable (install Debian's dovecot-imapd)"
    proc = subprocess.run(
        [programs()[0], "--build-options"], capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        return f"{programs()[0]} --build-options failed: {(proc.stdout + proc.stderr).strip()[:300]}"
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
        mail_account()
    except DovecotError as exc:
        return str(exc)
    return None
