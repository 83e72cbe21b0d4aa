"""``offlineimap-phantomfix``: the helper command (report, clear, probe, purge, doctor, demo).

The library modules raise :class:`~offlineimap_phantomfix.errors.PhantomFixError`; this module is the one
place that turns them into ``offlineimap-phantomfix: error: <text>`` and exit status 1. Usage errors exit 2
(argparse), an interrupt exits 130. Text that came from a server is passed through
:func:`~offlineimap_phantomfix.sanitize.clean_text` before it reaches the terminal.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from offlineimap_phantomfix import __version__
from offlineimap_phantomfix.errors import PhantomFixError, StoreError
from offlineimap_phantomfix.interrupt import Interrupted, InterruptGuard
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig
    from offlineimap_phantomfix.store import PhantomStore
    from offlineimap_phantomfix.verdicts import PhantomRecord

PROG = "offlineimap-phantomfix"
STOCK_TYPES = ("IMAP", "Gmail")
ENTRY_POINT_GROUP = "offlineimap.repository"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_UID = 2 ** 32 - 1  # RFC 3501: a UID is a non-zero 32-bit number
_INSTALL_CALL = re.compile(r"\bofflineimap_phantomfix\s*\.\s*install\s*\(\s*\)")
_INSTALL_IMPORT = re.compile(r"\bfrom\s+offlineimap_phantomfix\s+import\s+[^\n]*\binstall\b")
_BARE_INSTALL_CALL = re.compile(r"(?<![.\w])install\s*\(\s*\)")


# --- output helpers -------------------------------------------------------------------------------------

def _out(text: str = "", stream: TextIO | None = None) -> None:
    target = stream if stream is not None else sys.stdout
    target.write(text if text.endswith("\n") else text + "\n")


def _write_all(text: str) -> None:
    """Write ``text`` to stdout completely, or raise. Unbuffered (``-u``, PYTHONUNBUFFERED) stdout writes straight
    to the file descriptor, where a pipe may take only part of a write and the text layer drops the rest."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a replaced stdout (tests): no partial writes there
        _out(text)
        sys.stdout.flush()
        return
    data = memoryview(text.encode(sys.stdout.encoding or "utf-8", errors="backslashreplace"))
    while data:
        written = buffer.write(data)
        data = data[written if written is not None else 0:]
    buffer.flush()


def _warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {clean_text(message)}\n")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _describe(record: PhantomRecord) -> str:
    key = record.key
    return (f"{clean_text(key.account)} {clean_text(key.folder)} UID {key.uid} "
            f"(uidvalidity {key.uidvalidity}, {record.verdict.value})")


# --- config and store access ----------------------------------------------------------------------------

def _load_config(path: str | None) -> PhantomConfig:
    from offlineimap_phantomfix.config import PhantomConfig

    return PhantomConfig.load(Path(path) if path is not None else None)


def _store_file(directory: Path) -> Path | None:
    """The store file in ``directory``, or None when there is none yet (nothing is created).

    Raises StoreError when the directory exists but cannot be used.
    """
    from offlineimap_phantomfix.store import STORE_FILENAME

    path = directory / STORE_FILENAME
    try:
        if not directory.exists():
            return None
        if not directory.is_dir():
            raise StoreError(f"the state directory {directory} is not a directory")
        os.listdir(directory)  # fails early, with a clear reason, on a directory we may not read
        if not path.exists():
            return None
        if not path.is_file():
            raise StoreError(f"the phantom store {path} is not a regular file")
    except OSError as error:
        raise StoreError(f"cannot read the state directory {directory}: {error.strerror or error}") from None
    return path


@contextmanager
def _existing_store(directory: Path, *, readonly: bool = True) -> Iterator[PhantomStore | None]:
    """The store of ``directory`` opened for the duration, or None when it does not exist (not created).
    ``readonly`` (the default) changes nothing on disk, not even a damaged store."""
    if _store_file(directory) is None:
        yield None
        return
    from offlineimap_phantomfix.store import PhantomStore
    from offlineimap_phantomfix.store_readonly import open_readonly

    store = open_readonly(directory) if readonly else PhantomStore(directory, warn=_warn)
    try:
        yield store
    finally:
        store.close()


def _state_dirs(config: PhantomConfig, account: str | None) -> dict[Path, list[str]]:
    if account is not None:
        config.check_account(account)
    return config.state_dirs(account)


# --- report ---------------------------------------------------------------------------------------------

def cmd_report(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    from datetime import datetime, timezone

    from offlineimap_phantomfix import marks, report, report_short

    now = datetime.now(timezone.utc)
    since = now - args.since if args.since is not None else None
    shown: list[PhantomRecord] = []
    stores: list[tuple[Path, list[PhantomRecord]]] = []
    for directory in _state_dirs(config, args.account):
        with _existing_store(directory) as store:
            if store is None:
                continue
            records = report.select(store.records(account=args.account), args.account, since)
            if args.new is not None:
                records = marks.unshown(store, records, args.new)
            if records:
                stores.append((directory, records))
                shown.extend(records)
    if args.new is not None and not shown:
        return EXIT_OK  # nothing new: silent, so a cron job mails nothing
    from offlineimap_phantomfix.quarantine import GONE_NOTE, resolve_records

    tz = timezone.utc if args.utc else None
    if args.json:
        text = report.render_json(resolve_records(shown))
    elif args.long:
        text = report.render_text(resolve_records(shown, gone=GONE_NOTE), account=args.account, now=now, tz=tz,
                                  since=since, news_for=args.new)
    else:
        text = report_short.render_short(shown, account=args.account, now=now, tz=tz, since=since,
                                         retry_after=_retry_after(config), news_for=args.new)
    _write_all(text)  # a reader gone (BrokenPipeError) or a full disk ends here, before anything is marked
    if args.new is not None:
        for directory, records in stores:
            with _existing_store(directory, readonly=False) as store:
                if store is not None:
                    marks.mark_shown(store, records, args.new)
    return EXIT_OK


def _retry_after(config: PhantomConfig) -> dict[str, Any]:
    """Each account's ``phantom_retry_after``, for the report's line on when skipped messages are retried."""
    found: dict[str, Any] = {}
    for account in config.accounts():
        try:
            found[account] = config.phantom_options(account).retry_after
        except PhantomFixError:
            continue  # doctor says what is wrong with it; the report just leaves the line out
    return found


# --- clear ----------------------------------------------------------------------------------------------

def cmd_clear(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    account = None if args.all else args.account
    cleared: list[PhantomRecord] = []
    for directory in _state_dirs(config, account):
        with _existing_store(directory, readonly=args.dry_run) as store:
            if store is None:
                continue
            if args.finished:
                cleared.extend(_clear_finished(store, args, account))
                continue
            cleared.extend(store.clear(account=account, folder=args.folder, uid=args.uid, dry_run=args.dry_run))
    cleared.sort(key=lambda record: record.key)
    verb = "would clear" if args.dry_run else "cleared"
    for record in cleared:
        _out(f"{verb}: {_describe(record)}")
    count = _plural(len(cleared), "entry", "entries")
    if args.dry_run:
        _out(f"{count} would be cleared (dry run, nothing changed).")
    elif cleared and args.finished:
        _out(f"{count} cleared; {'it was' if len(cleared) == 1 else 'they were'} recovered, vanished or purged, "
             "so nothing is fetched again.")
    elif cleared:
        _out(f"{count} cleared; {'it is' if len(cleared) == 1 else 'they are'} fetched again on the next sync.")
    else:
        _out("0 entries cleared.")
    return EXIT_OK


def _clear_finished(store: PhantomStore, args: argparse.Namespace, account: str | None) -> list[PhantomRecord]:
    from offlineimap_phantomfix import marks
    from offlineimap_phantomfix.report import FINISHED, category

    records = store.records(account=account, folder=args.folder, uid=args.uid)
    return marks.delete_finished(store, [r for r in records if category(r) in FINISHED], dry_run=args.dry_run)


# --- probe and purge ------------------------------------------------------------------------------------

def _optional_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"offlineimap_phantomfix.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"offlineimap_phantomfix.{name}":
            raise PhantomFixError(f"'{name}' is not available in this installation") from None
        raise


def cmd_probe(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    config.check_account(args.account)
    output = Path(args.output) if args.output is not None else None
    if output is not None:
        _check_writable(output)  # before connecting: a probe is not run for a transcript that cannot be kept
    probe = _optional_module("probe")
    with _progress("probe"):
        result = probe.run_probe(config, args.account, args.folder, args.uid)
    transcript = clean_text(str(result.transcript), keep_newlines=True).rstrip("\n")
    text = (transcript + "\n" if transcript else "") + clean_text(str(result.verdict)) + "\n"
    sys.stdout.write(text)  # first: whatever happens to --output, the transcript is not lost
    sys.stdout.flush()
    if output is not None:
        try:
            _write_private(output, text)
        except PhantomFixError as error:
            raise PhantomFixError(f"{error}; the transcript is printed above") from None
        _out(f"transcript written to {output}", sys.stderr)
    return EXIT_OK


def _check_writable(path: Path) -> None:
    """Raise PhantomFixError when ``path`` cannot be written (nothing is created or truncated here)."""
    if path.is_dir():
        raise PhantomFixError(f"cannot write {path}: it is a directory")
    target = path if path.exists() else path.parent
    if not target.exists():
        raise PhantomFixError(f"cannot write {path}: the directory {path.parent} does not exist")
    if not os.access(target, os.W_OK):
        raise PhantomFixError(f"cannot write {path}: permission denied")


def _progress(command: str) -> Any:
    from offlineimap_phantomfix.progress import Progress
    from offlineimap_phantomfix.session import latest_transcript

    return Progress(lambda line: _out(f"{PROG}: {command}: {clean_text(line)}", sys.stderr), latest_transcript)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (an existing file is truncated and tightened)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
    except OSError as error:
        raise PhantomFixError(f"cannot write {path}: {error.strerror or error}") from None


def cmd_purge(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    config.check_account(args.account)
    purge = _optional_module("purge")
    if args.yes and getattr(args, "guard", None) is not None:
        args.guard.describe = partial(_purge_progress, args.uid)
    with _progress("purge"):
        result = purge.run_purge(config, args.account, args.folder, args.uid, yes=args.yes)
    for line in result.lines:
        _out(clean_text(str(line)))
    if not args.yes:
        if any(str(line).startswith("would refuse") for line in result.lines):
            _out("nothing was changed; --yes would refuse this too (see above).")
            return EXIT_ERROR
        _out("nothing was changed; run again with --yes to do this.")
        return EXIT_OK
    return EXIT_OK if result.done else EXIT_ERROR


def _purge_progress(uid: int) -> str:
    from offlineimap_phantomfix.interrupt import purge_progress
    from offlineimap_phantomfix.session import latest_transcript

    transcript = latest_transcript()
    if transcript is None:
        return "nothing was changed on the server (not connected yet)"
    return purge_progress(transcript.answered, uid)


# --- doctor ---------------------------------------------------------------------------------------------

class _Doctor:
    """Collects one line per check: ``<verdict> <what>: <detail>``."""

    WIDTH = 8

    def __init__(self) -> None:
        self.errors = 0

    def line(self, verdict: str, what: str, detail: str) -> None:
        if verdict == "error":
            self.errors += 1
        _out(f"{verdict:<{self.WIDTH}}{what}: {clean_text(detail)}")

    def run(self, name: str, check: Callable[[], tuple[str, str]]) -> None:
        try:
            verdict, detail = check()
        except PhantomFixError as error:
            verdict, detail = "error", str(error)
        self.line(verdict, name, detail)


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


def _check_activation(config: PhantomConfig, types: set[str]) -> tuple[str, str]:
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


def _check_type(config: PhantomConfig, account: str) -> tuple[str, str]:
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES

    repo_type = config.remote_type(account)
    name = config.remote_repository(account)
    if repo_type in PHANTOMSAFE_TYPES:
        return "ok", f"[Repository {name}] type = {repo_type}"
    if repo_type in STOCK_TYPES:
        return "warning", (f"[Repository {name}] type = {repo_type}: not active "
                           f"(set type = PhantomSafe{repo_type} to use offlineimap-phantomfix)")
    return "warning", f"[Repository {name}] type = {repo_type or '(none)'}: not an IMAP repository; not active"


def _check_options(config: PhantomConfig, account: str) -> tuple[str, str]:
    from offlineimap_phantomfix.options import format_duration

    options = config.phantom_options(account)
    retry = "never" if options.retry_after is None else format_duration(options.retry_after)
    return "ok", f"phantom_action = {options.action.value}, phantom_retry_after = {retry}"


def _duration_text(seconds: float) -> str:
    value = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value % size == 0 and value >= size:
            return f"{value // size}{unit}"
    return f"{value}s"


def _check_connection_settings(config: PhantomConfig, account: str) -> tuple[str, str]:
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


def _check_state_dir(directory: Path) -> tuple[str, str]:
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


def _check_store(directory: Path) -> tuple[str, str]:
    path = _store_file(directory)
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
        return "warning", f"{path} has mode {mode:04o}; 0600 expected; {_plural(count, 'record')}"
    return "ok", f"{path}: integrity ok, {_plural(count, 'record')}"


def cmd_doctor(args: argparse.Namespace) -> int:
    from offlineimap_phantomfix import checkup
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES

    doctor = _Doctor()
    try:
        config = _load_config(args.config)
        accounts = config.accounts()
    except PhantomFixError as error:
        doctor.line("error", "config", str(error))
        return EXIT_ERROR
    doctor.line("ok", "config", f"{config.path} parses; accounts: {', '.join(accounts) or '(none)'}")
    ours: set[str] = set()
    for account in accounts:
        try:
            if config.remote_type(account) in PHANTOMSAFE_TYPES:
                ours.add(config.remote_type(account))
        except PhantomFixError:
            pass  # reported by the account's type check below
    if ours:
        doctor.run("activation", partial(_check_activation, config, ours))
        for verdict, what, detail in checkup.check_offlineimap(args.offlineimap):
            doctor.line(verdict, what, detail)
    seen_dirs: dict[Path, str] = {}
    for account in accounts:
        label = f"account {account}"
        doctor.run(f"{label}: type", partial(_check_type, config, account))
        doctor.run(f"{label}: options", partial(_check_options, config, account))
        doctor.run(f"{label}: Maildir", partial(_check_notices, config, account))
        doctor.run(f"{label}: server settings", partial(_check_connection_settings, config, account))
        try:
            directory = config.state_dir(account)
        except PhantomFixError:
            continue  # the options line above already says why
        if directory in seen_dirs:
            doctor.line("ok", f"{label}: state directory", f"{directory} (shared with account {seen_dirs[directory]})")
            continue
        seen_dirs[directory] = account
        doctor.run(f"{label}: state directory", partial(_check_state_dir, directory))
        doctor.run(f"{label}: store", partial(_check_store, directory))
        doctor.run(f"{label}: quarantine", partial(checkup.check_quarantine, directory))
    return EXIT_ERROR if doctor.errors else EXIT_OK


# --- adopt ----------------------------------------------------------------------------------------------

def cmd_adopt(args: argparse.Namespace) -> int:
    if args.folder is not None and args.account is None:
        args.subparser.error("--folder needs --account")
    config = _load_config(args.config)
    from offlineimap_phantomfix.adopt import run_adopt

    for account in [args.account] if args.account is not None else config.accounts():
        config.check_account(account)
        run_adopt(config, account, folder=args.folder, yes=args.yes, say=_say)
    return EXIT_OK


def _say(line: str) -> None:
    _out(line)
    sys.stdout.flush()


def _check_notices(config: PhantomConfig, account: str) -> tuple[str, str]:
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES
    from offlineimap_phantomfix.noticecount import count_notices

    if config.remote_type(account) not in (*PHANTOMSAFE_TYPES, *STOCK_TYPES):
        return "ok", "not an IMAP account: not checked"
    counted = count_notices(config, account)
    if counted is None:
        return "ok", "not synced yet: no Maildir to check"
    notices, messages = counted
    if notices:
        return "warning", (f"{_plural(notices, 'substitute notice')} stored as mail in the Maildir (of "
                           f"{_plural(messages, 'message')}); see: {PROG} adopt --account {account}")
    return "ok", f"no substitute notice stored as mail in the Maildir ({_plural(messages, 'message')} checked)"


# --- demo -----------------------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    from offlineimap_phantomfix.testing.demo import run_demo

    return run_demo(keep=args.keep)


# --- argument parsing -----------------------------------------------------------------------------------

def _uid(value: str) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UID (a positive whole number)") from None
    if number < 1 or number > MAX_UID:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UID (a whole number from 1 to {MAX_UID})")
    return number


def _consumer(value: str) -> str:
    if not value.strip() or clean_text(value) != value or len(value) > 64:
        raise argparse.ArgumentTypeError(f"{value!r} is not a reader name (a word such as cron or mutt)")
    return value


def _since(value: str) -> Any:
    from offlineimap_phantomfix.options import parse_duration

    try:
        duration = parse_duration(value)
    except PhantomFixError:
        duration = None
    if duration is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (a number with s, m, h, d or w, e.g. 7d)")
    return duration


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", required=True, help="the account, as named in [general] accounts")
    parser.add_argument("--folder", required=True, help="the remote folder, as offlineimap names it (e.g. INBOX)")
    parser.add_argument("--uid", required=True, type=_uid, help="the message's UID in that folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inspect and manage the messages that PhantomSafeIMAP skipped, quarantined or recovered.",
        epilog="Exit status: 0 success, 1 handled error, 2 usage error.",
    )
    parser.add_argument("-c", "--config", metavar="FILE", default=None,
                        help="offlineimap configuration file (default as offlineimap: "
                             "$XDG_CONFIG_HOME/offlineimap/config, then ~/.offlineimaprc)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.required = True

    def add(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".")
        sub.set_defaults(handler=handler, subparser=sub)
        return sub

    report = add("report", "show skipped, quarantined, recovered and vanished messages, with the next step",
                 cmd_report)
    report.add_argument("--account", help="only this account")
    form = report.add_mutually_exclusive_group()
    form.add_argument("--long", action="store_true", help="every detail of each message (several lines each)")
    form.add_argument("--json", action="store_true", help='machine-readable output: {"messages": [...]}')
    report.add_argument("--new", nargs="?", const="default", metavar="NAME", type=_consumer,
                        help="only what this reader (NAME, default 'default') was not shown yet; prints nothing "
                             "when there is nothing new, and marks it shown once it was written out")
    report.add_argument("--since", metavar="DURATION", type=_since,
                        help="only messages seen in this time (as phantom_retry_after: 12h, 7d, 2w)")
    report.add_argument("--utc", action="store_true", help="times in UTC (default: local time, offset shown)")

    clear = add("clear", "forget skip entries, so the messages are fetched again on the next sync", cmd_clear)
    scope = clear.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="every entry of every configured account")
    scope.add_argument("--account", help="the entries of this account")
    clear.add_argument("--finished", action="store_true",
                       help="only recovered, vanished and purged entries (of every account unless --account)")
    clear.add_argument("--folder", help="only this folder (needs --account)")
    clear.add_argument("--uid", type=_uid, help="only this UID (needs --folder)")
    clear.add_argument("--dry-run", action="store_true", help="show what would be cleared, change nothing")

    probe = add("probe", "fetch one message every way we know and print a redacted IMAP transcript", cmd_probe)
    _add_target(probe)
    probe.add_argument("--output", metavar="FILE", help="also write the transcript to FILE (mode 0600)")

    purge = add("purge", "delete one phantom on the server (only it; shows what it would do without --yes)",
                cmd_purge)
    _add_target(purge)
    purge.add_argument("--yes", action="store_true", help="really delete it")

    adopt = add("adopt", "find the server's substitute notices a stock sync stored as mail and move them to the "
                         "quarantine (lists them without --yes)", cmd_adopt)
    adopt.add_argument("--account", help="only this account (default: every account)")
    adopt.add_argument("--folder", help="only this folder, by its remote or local name (needs --account)")
    adopt.add_argument("--yes", action="store_true", help="really move them (under offlineimap's account lock)")

    doctor = add("doctor", "check the configuration, activation, Maildir, state directory, store and quarantine",
                 cmd_doctor)
    doctor.add_argument("--offlineimap", metavar="PROGRAM",
                        help="the offlineimap program you run, to try the import with (default: first on PATH)")

    demo = add("demo", "show the problem and the fix against a local emulated server (no network)", cmd_demo)
    demo.add_argument("--keep", action="store_true", help="keep the demo's temporary directory")
    return parser


def _check_scope(args: argparse.Namespace) -> None:
    if args.command != "clear":
        return
    if not (args.all or args.account is not None or args.finished):
        args.subparser.error("one of the arguments --all --account --finished is required")
    if args.folder is not None and args.account is None:
        args.subparser.error("--folder needs --account")
    if args.uid is not None and args.folder is None:
        args.subparser.error("--uid needs --folder")


def _tolerant_streams() -> None:
    """A terminal whose encoding cannot show a folder name or subject gets a replacement, not a traceback."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    from offlineimap_phantomfix.offlineimap_home import make_offlineimap_importable

    make_offlineimap_importable()  # Debian's offlineimap3 lives outside the module path
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        _check_scope(args)
    except SystemExit as exit_:  # argparse: --help / --version (0) or a usage error (2)
        if exit_.code is None:
            return EXIT_OK
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    guard = InterruptGuard(PROG, partial(_interrupted_state, args))
    args.guard = guard
    installed = argv is None and guard.install()  # the real program only: the handlers end the process
    if argv is None:  # a connection thread of offlineimap that fails after we are done prints no traceback
        threading.excepthook = _quiet_thread_failure
    try:
        return int(args.handler(args))
    except Interrupted:
        guard.finish()
        raise  # not reached: finish() ends the process
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_ERROR
    except PhantomFixError as error:
        sys.stderr.write(f"{PROG}: error: {_one_line(str(error))}\n")
        return EXIT_ERROR
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        sys.stderr.write(f"{PROG}: error: {error.strerror or error}{where}\n")
        return EXIT_ERROR
    finally:
        if installed:
            guard.uninstall()


def _quiet_thread_failure(args: Any) -> None:
    """Background threads (imaplib2 readers of connections already given up) may fail while closing; what
    matters was already reported by the command, so they end silently."""


def _interrupted_state(args: argparse.Namespace) -> str:
    """What an interrupted command had done (purge --yes replaces this with its own account)."""
    if args.command == "clear" and not args.dry_run:
        return "clearing is one transaction: either every entry listed was cleared or none; 'report' shows the rest"
    if args.command == "report" and args.new:
        return "messages are marked as shown only after the whole report was written"
    if args.command == "demo":
        return "the demo was stopped"
    return "nothing was changed"


def _one_line(text: str) -> str:
    return clean_text(text) or "unknown error"


def _silence_stdout() -> None:
    """After the reader of our output went away (``| head``), keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

