"""The doctor's checks, one function per line of its output, each returning a verdict (``ok``, ``warning`` or
``error``) and a detail; ``cli_doctor`` runs them in order and prints them.

The checks of the config file read it with offlineimap's parser and offlineimap's own objects (no connection is
made, no password is read, nothing is written). The checks of the state directory open the store read-only. The
import is tried for real: the program's ``#!`` line names its Python, and that Python is asked to import
``offlineimap_phantomfix`` and call ``install()`` as a pythonfile would. The program is the one named with
``--offlineimap``, else the first ``offlineimap`` on PATH; when cron's default PATH finds another one, that one
is tried too, since a crontab line without a full path runs it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offlineimap_phantomfix.cli_common import PROG, plural, store_file
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = ["CRON_PATH", "STOCK_TYPES", "check_activation", "check_connection_settings", "check_notices",
           "check_offlineimap", "check_options", "check_quarantine", "check_state_dir", "check_store",
           "check_type", "interpreter_of"]

CRON_PATH = "/usr/bin:/bin"
STOCK_TYPES = ("IMAP", "Gmail")
ENTRY_POINT_GROUP = "offlineimap.repository"
_INSTALL_CALL = re.compile(r"\bofflineimap_phantomfix\s*\.\s*install\s*\(\s*\)")
_INSTALL_IMPORT = re.compile(r"\bfrom\s+offlineimap_phantomfix\s+import\s+[^\n]*\binstall\b")
_BARE_INSTALL_CALL = re.compile(r"(?<![.\w])install\s*\(\s*\)")
_TIMEOUT = 120  # seconds for one import; the machine may be busy, and nothing else waits on it
_IMPORT = ("import offlineimap, offlineimap_phantomfix\n"
           "offlineimap_phantomfix.install()\n"
           "print(offlineimap_phantomfix.__version__, getattr(offlineimap, '__version__', 'unknown'))\n")

Check = tuple[str, str, str]  # verdict, what, detail


# --- the offlineimap program ----------------------------------------------------------------------------

def interpreter_of(program: Path) -> list[str] | None:
    """The command that runs a Python script, read from its ``#!`` line (``env`` resolved on PATH), or None
    when ``program`` is not a Python script."""
    try:
        with open(program, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = shlex.split(first[2:].decode("utf-8", "replace").strip())
    if words and Path(words[0]).name == "env":
        words = [word for word in words[1:] if not word.startswith("-")]
        found = shutil.which(words[0]) if words else None
        words = [found, *words[1:]] if found else []
    if not words or "python" not in Path(words[0]).name:
        return None
    return words


def _try_import(program: Path) -> tuple[bool, str]:
    command = interpreter_of(program)
    if command is None:
        return False, f"{program} is not a Python script, so the import could not be tried"
    # As when Python runs the script itself: its real directory (symlinks resolved) comes first on sys.path;
    # Debian's /usr/bin/offlineimap is a link to /usr/share/offlineimap3/run and finds offlineimap that way.
    code = f"import sys\nsys.path.insert(0, {str(program.resolve().parent)!r})\n{_IMPORT}"
    try:
        done = subprocess.run([*command, "-c", code], capture_output=True, text=True, timeout=_TIMEOUT,
                              cwd="/", stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return False, f"{command[0]} could not be run: {error}"
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1] if lines else f"exit status {done.returncode}"
        return False, f"its Python {command[0]} cannot load the plugin: {clean_text(why)}"
    versions = done.stdout.split()
    ours, theirs = [*versions, "unknown", "unknown"][:2]
    return True, f"its Python {command[0]} imports offlineimap_phantomfix {ours} (offlineimap {theirs})"


def check_offlineimap(named: str | None, path: str | None = None) -> list[Check]:
    """One line per offlineimap program tried: the one named (or first on ``path``, default PATH), and the
    one cron's default PATH finds when that is another program."""
    what = "offlineimap program"
    if named is not None:
        found = shutil.which(named) if os.sep not in named else (named if os.access(named, os.X_OK) else None)
        if found is None:
            return [("error", what, f"{named} (named with --offlineimap) is not an executable program")]
        main, how = Path(found), "named with --offlineimap"
    else:
        first = shutil.which("offlineimap", path=path)
        if first is None:
            return [("warning", what, "no offlineimap on PATH; name the one you run with --offlineimap PROGRAM")]
        main, how = Path(first), "first on PATH"
    works, detail = _try_import(main)
    ours = Path(sys.executable).with_name("offlineimap")
    if not works and ours.is_file() and ours.resolve() != main.resolve():
        detail += f"; run {ours} (next to this offlineimap-phantomfix) by its full path instead"
    checks: list[Check] = [("ok" if works else "error", what, f"{main} ({how}): {detail}")]
    cron = shutil.which("offlineimap", path=CRON_PATH)
    if cron is not None and Path(cron).resolve() != main.resolve():
        works, detail = _try_import(Path(cron))
        if works:
            checks.append(("ok", "offlineimap under cron", f"{cron} (cron's PATH {CRON_PATH}): {detail}"))
        else:
            checks.append(("warning", "offlineimap under cron",
                           f"{cron} (cron's PATH {CRON_PATH}): {detail}; in a crontab, run {main} by its full path"))
    return checks


# --- the config file ------------------------------------------------------------------------------------

def _entry_point_types() -> set[str]:
    from importlib import metadata

    try:
        points: Any = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python < 3.10: a dict of group -> entry points
        points = metadata.entry_points().get(ENTRY_POINT_GROUP, ())
    return {point.name for point in points}


def _offlineimap_reads_entry_points() -> bool:
    """True for an offlineimap patched to look repository types up in the entry points (patches/0001)."""
    try:
        import offlineimap.repository as repository_module
    except Exception:  # an offlineimap that cannot even be imported is reported by the config check
        return False
    return getattr(repository_module, "ENTRY_POINT_GROUP", None) == ENTRY_POINT_GROUP


def check_activation(config: PhantomConfig, types: set[str]) -> tuple[str, str]:
    parser = config.parser
    pythonfile = parser.get("general", "pythonfile") if parser.has_option("general", "pythonfile") else ""
    if pythonfile:
        path = Path(os.path.expandvars(os.path.expanduser(str(pythonfile).strip())))
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return "error", f"[general] pythonfile = {path} cannot be read: {error.strerror or error}"
        code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
        if _INSTALL_CALL.search(code) or (_INSTALL_IMPORT.search(code) and _BARE_INSTALL_CALL.search(code)):
            return "ok", f"[general] pythonfile {path} calls offlineimap_phantomfix.install()"
        hint = f"[general] pythonfile {path} does not call offlineimap_phantomfix.install()"
    else:
        hint = "no [general] pythonfile"
    registered = _entry_point_types()
    if types <= registered and _offlineimap_reads_entry_points():
        return "ok", f"{hint}; this offlineimap finds {', '.join(sorted(types))} through its entry points"
    return "warning", (f"{hint}: stock offlineimap will say the type is not supported; add "
                       f"'import offlineimap_phantomfix' and 'offlineimap_phantomfix.install()' to the pythonfile, "
                       f"or run offlineimap-phantomsafe instead of offlineimap")


def check_type(config: PhantomConfig, account: str) -> tuple[str, str]:
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES

    repo_type = config.remote_type(account)
    name = config.remote_repository(account)
    if repo_type in PHANTOMSAFE_TYPES:
        return "ok", f"[Repository {name}] type = {repo_type}"
    if repo_type in STOCK_TYPES:
        return "warning", (f"[Repository {name}] type = {repo_type}: not active "
                           f"(set type = PhantomSafe{repo_type} to use offlineimap-phantomfix)")
    return "warning", f"[Repository {name}] type = {repo_type or '(none)'}: not an IMAP repository; not active"


def check_options(config: PhantomConfig, account: str) -> tuple[str, str]:
    from offlineimap_phantomfix.options import format_duration

    options = config.phantom_options(account)
    retry = "never" if options.retry_after is None else format_duration(options.retry_after)
    return "ok", f"phantom_action = {options.action.value}, phantom_retry_after = {retry}"


def check_notices(config: PhantomConfig, account: str) -> tuple[str, str]:
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES
    from offlineimap_phantomfix.noticecount import count_notices

    if config.remote_type(account) not in (*PHANTOMSAFE_TYPES, *STOCK_TYPES):
        return "ok", "not an IMAP account: not checked"
    counted = count_notices(config, account)
    if counted is None:
        return "ok", "not synced yet: no Maildir to check"
    notices, messages = counted
    if notices:
        return "warning", (f"{plural(notices, 'substitute notice')} stored as mail in the Maildir (of "
                           f"{plural(messages, 'message')}); see: {PROG} adopt --account {account}")
    return "ok", f"no substitute notice stored as mail in the Maildir ({plural(messages, 'message')} checked)"


def check_connection_settings(config: PhantomConfig, account: str) -> tuple[str, str]:
    """Every option offlineimap reads for the remote side, read by offlineimap itself (no connection is made,
    no password is read, nothing is written)."""
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES
    from offlineimap_phantomfix.session import open_session

    if config.remote_type(account) not in (*PHANTOMSAFE_TYPES, *STOCK_TYPES):
        return "ok", "not an IMAP repository: nothing to check"
    problems = config.option_problems(account)
    if problems:
        return "error", "; ".join(problems)

    with open_session(config, account) as session:
        server = session.server
        return "ok", (f"{session.where} ({session.security}), user {session.user or '(none)'}, "
                      f"maxconnections {server.maxconnections}")


# --- the state directory --------------------------------------------------------------------------------

def check_state_dir(directory: Path) -> tuple[str, str]:
    try:
        if directory.exists():
            if not directory.is_dir():
                return "error", f"{directory} exists but is not a directory"
            mode = directory.stat().st_mode & 0o777
            if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
                return "error", (f"{directory} is not readable and writable for this user: the sync cannot "
                                 f"record phantoms there")
            if mode & 0o077:
                return "warning", f"{directory} has mode {mode:04o}; 0700 expected (chmod 700 {directory})"
            return "ok", f"{directory} (mode 0700)"
        parent = directory.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return "ok", f"{directory} does not exist yet; it is created (mode 0700) at the first phantom"
        return "error", f"{directory} does not exist and cannot be created under {parent}"
    except OSError as error:
        return "error", f"{directory}: {error.strerror or error}"


def check_store(directory: Path) -> tuple[str, str]:
    path = store_file(directory)
    if path is None:
        return "ok", f"no store in {directory} yet (nothing recorded)"
    from offlineimap_phantomfix.store_readonly import damaged_text, open_readonly

    with open_readonly(directory) as store:
        health = store.check()
        count = len(store.records())
    if health != "ok":
        return "error", damaged_text(path, health)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return "warning", f"{path} has mode {mode:04o}; 0600 expected; {plural(count, 'record')}"
    return "ok", f"{path}: integrity ok, {plural(count, 'record')}"


def check_quarantine(directory: Path) -> tuple[str, str]:
    """Whether every quarantine item the store of ``directory`` recorded is still in its Maildir (``new/`` or
    ``cur/``, under any flags a mail reader added)."""
    from offlineimap_phantomfix.errors import StoreError
    from offlineimap_phantomfix.quarantine import resolve
    from offlineimap_phantomfix.store import STORE_FILENAME
    from offlineimap_phantomfix.store_readonly import open_readonly

    if not (directory / STORE_FILENAME).is_file():
        return "ok", "nothing recorded yet"
    try:
        with open_readonly(directory) as store:  # doctor changes nothing, not even a damaged store
            recorded = [record.quarantine for record in store.records() if record.quarantine]
    except StoreError:
        return "ok", "nothing to compare: the store itself is not readable (see its own line)"
    gone = [path for path in recorded if resolve(path) is None]
    if gone:
        return "warning", (f"{len(gone)} of {len(recorded)} recorded quarantine items are no longer in new/ or "
                           f"cur/ (moved away or deleted), e.g. {gone[0]}; the report marks them gone")
    return "ok", f"{len(recorded)} recorded items, all in place"
