"""The doctor's checks that look outside the config file: can the offlineimap program the user runs import the
plugin, and are the quarantine items the store recorded still in their Maildir.

The import is tried for real: the program's ``#!`` line names its Python, and that Python is asked to import
``offlineimap_phantomfix`` and call ``install()`` as a pythonfile would. The program is the one named with
``--offlineimap``, else the first ``offlineimap`` on PATH; when cron's default PATH finds another one, that one
is tried too, since a crontab line without a full path runs it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from offlineimap_phantomfix.sanitize import clean_text

__all__ = ["CRON_PATH", "check_offlineimap", "check_quarantine", "interpreter_of"]

CRON_PATH = "/usr/bin:/bin"
_TIMEOUT = 120  # seconds for one import; the machine may be busy, and nothing else waits on it
_IMPORT = ("import offlineimap, offlineimap_phantomfix\n"
           "offlineimap_phantomfix.install()\n"
           "print(offlineimap_phantomfix.__version__, getattr(offlineimap, '__version__', 'unknown'))\n")

Check = tuple[str, str, str]  # verdict, what, detail


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
