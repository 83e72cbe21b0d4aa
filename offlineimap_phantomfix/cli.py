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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from offlineimap_phantomfix import __version__
from offlineimap_phantomfix.errors import PhantomFixError, StoreError
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig
    from offlineimap_phantomfix.store import PhantomStore
    from offlineimap_phantomfix.verdicts import PhantomRecord

PROG = "offlineimap-phantomfix"
STOCK_TYPES = ("IMAP", "Gmail")
ENTRY_POINT_GROUP = "offlineimap.repository"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_INSTALL_CALL = re.compile(r"\bofflineimap_phantomfix\s*\.\s*install\s*\(\s*\)")
_INSTALL_IMPORT = re.compile(r"\bfrom\s+offlineimap_phantomfix\s+import\s+[^\n]*\binstall\b")
_BARE_INSTALL_CALL = re.compile(r"(?<![.\w])install\s*\(\s*\)")


# --- output helpers -------------------------------------------------------------------------------------

def _out(text: str = "", stream: TextIO | None = None) -> None:
    target = stream if stream is not None else sys.stdout
    target.write(text if text.endswith("\n") else text + "\n")


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
def _existing_store(directory: Path) -> Iterator[PhantomStore | None]:
    """The store of ``directory`` opened for the duration, or None when it does not exist (not created)."""
    if _store_file(directory) is None:
        yield None
        return
    from offlineimap_phantomfix.store import PhantomStore

    store = PhantomStore(directory, warn=_warn)
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
    from offlineimap_phantomfix import report

    shown: list[PhantomRecord] = []
    stores: list[tuple[Path, list[PhantomRecord]]] = []
    for directory in _state_dirs(config, args.account):
        with _existing_store(directory) as store:
            if store is None:
                continue
            records = store.records(account=args.account)
            if args.new:
                records = [record for record in records if not record.reported]
            if records:
                stores.append((directory, records))
                shown.extend(records)
    shown.sort(key=lambda record: record.key)
    if args.new and not shown:
        return EXIT_OK  # nothing new: silent, so a cron job or postsynchook mails nothing
    if args.json:
        _out(report.render_json(shown))
    else:
        _out(report.render_text(shown, account=args.account))
    sys.stdout.flush()
    if args.new:
        for directory, records in stores:
            with _existing_store(directory) as store:
                if store is not None:
                    store.mark_reported(record.key for record in records)
    return EXIT_OK


# --- clear ----------------------------------------------------------------------------------------------

def cmd_clear(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    account = None if args.all else args.account
    cleared: list[PhantomRecord] = []
    for directory in _state_dirs(config, account):
        with _existing_store(directory) as store:
            if store is None:
                continue
            cleared.extend(store.clear(account=account, folder=args.folder, uid=args.uid, dry_run=args.dry_run))
    cleared.sort(key=lambda record: record.key)
    verb = "would clear" if args.dry_run else "cleared"
    for record in cleared:
        _out(f"{verb}: {_describe(record)}")
    count = _plural(len(cleared), "entry", "entries")
    if args.dry_run:
        _out(f"{count} would be cleared (dry run, nothing changed).")
    elif cleared:
        _out(f"{count} cleared; {'it is' if len(cleared) == 1 else 'they are'} fetched again on the next sync.")
    else:
        _out("0 entries cleared.")
    return EXIT_OK


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
    probe = _optional_module("probe")
    result = probe.run_probe(config, args.account, args.folder, args.uid)
    transcript = clean_text(str(result.transcript), keep_newlines=True).rstrip("\n")
    text = (transcript + "\n" if transcript else "") + clean_text(str(result.verdict)) + "\n"
    if args.output is not None:
        _write_private(Path(args.output), text)
    sys.stdout.write(text)
    if args.output is not None:
        _out(f"transcript written to {args.output}", sys.stderr)
    return EXIT_OK


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
    result = purge.run_purge(config, args.account, args.folder, args.uid, yes=args.yes)
    for line in result.lines:
        _out(clean_text(str(line)))
    if not args.yes:
        _out("nothing was changed; run again with --yes to do this.")
        return EXIT_OK
    return EXIT_OK if result.done else EXIT_ERROR


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
    options = config.phantom_options(account)
    retry = "never" if options.retry_after is None else _duration_text(options.retry_after.total_seconds())
    return "ok", f"phantom_action = {options.action.value}, phantom_retry_after = {retry}"


def _duration_text(seconds: float) -> str:
    value = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value % size == 0 and value >= size:
            return f"{value // size}{unit}"
    return f"{value}s"


def _check_state_dir(directory: Path) -> tuple[str, str]:
    try:
        if directory.exists():
            if not directory.is_dir():
                return "error", f"{directory} exists but is not a directory"
            mode = directory.stat().st_mode & 0o777
            if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
                return "error", f"{directory} is not readable and writable for this user"
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
    from offlineimap_phantomfix.store import PhantomStore

    warnings: list[str] = []
    with PhantomStore(directory, warn=warnings.append) as store:
        health = store.check()
        count = len(store.records())
    if health != "ok":
        return "error", f"{path}: {health}"
    if warnings:
        return "warning", "; ".join(warnings)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return "warning", f"{path} has mode {mode:04o}; 0600 expected; {_plural(count, 'record')}"
    return "ok", f"{path}: integrity ok, {_plural(count, 'record')}"


def cmd_doctor(args: argparse.Namespace) -> int:
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
    seen_dirs: dict[Path, str] = {}
    for account in accounts:
        label = f"account {account}"
        doctor.run(f"{label}: type", partial(_check_type, config, account))
        doctor.run(f"{label}: options", partial(_check_options, config, account))
        doctor.run(f"{label}: Maildir", partial(_check_notices, config, account))
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
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UID (a positive whole number)")
    return number


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
    report.add_argument("--json", action="store_true", help='machine-readable output: {"messages": [...]}')
    report.add_argument("--new", action="store_true",
                        help="only what an earlier --new did not show; prints nothing when there is nothing new")

    clear = add("clear", "forget skip entries, so the messages are fetched again on the next sync", cmd_clear)
    scope = clear.add_mutually_exclusive_group(required=True)
    scope.add_argument("--all", action="store_true", help="every entry of every configured account")
    scope.add_argument("--account", help="the entries of this account")
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

    add("doctor", "check the configuration, activation, Maildir, state directory and store", cmd_doctor)

    demo = add("demo", "show the problem and the fix against a local emulated server (no network)", cmd_demo)
    demo.add_argument("--keep", action="store_true", help="keep the demo's temporary directory")
    return parser


def _check_scope(args: argparse.Namespace) -> None:
    if args.command != "clear":
        return
    if args.folder is not None and args.account is None:
        args.subparser.error("--folder needs --account")
    if args.uid is not None and args.folder is None:
        args.subparser.error("--uid needs --folder")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        _check_scope(args)
    except SystemExit as exit_:  # argparse: --help / --version (0) or a usage error (2)
        if exit_.code is None:
            return EXIT_OK
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return int(args.handler(args))
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


def _one_line(text: str) -> str:
    return clean_text(text) or "unknown error"


def _silence_stdout() -> None:
    """After the reader of our output went away (``| head``), keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

