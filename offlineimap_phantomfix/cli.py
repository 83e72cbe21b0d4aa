"""``offlineimap-phantomfix``: the helper command's argument parser, its entry point, and the demo command.

Each command lives in its own module (``cli_records``: report and clear; ``cli_server``: probe, purge and
adopt; ``cli_doctor``: doctor) and imports what it needs when it runs, so ``--help`` stays fast and works
without offlineimap. The library modules raise :class:`~offlineimap_phantomfix.errors.PhantomFixError`;
:func:`main` is the one place that turns them into ``offlineimap-phantomfix: error: <text>`` and exit status 1.
Usage errors exit 2 (argparse), an interrupt exits 130. Text that came from a server is passed through
:func:`~offlineimap_phantomfix.sanitize.clean_text` before it reaches the terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any, Callable

from offlineimap_phantomfix import __version__
from offlineimap_phantomfix.cli_common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG
from offlineimap_phantomfix.cli_doctor import cmd_doctor
from offlineimap_phantomfix.cli_records import cmd_clear, cmd_report
from offlineimap_phantomfix.cli_server import cmd_adopt, cmd_probe, cmd_purge
from offlineimap_phantomfix.configcode import configuration_code_failure
from offlineimap_phantomfix.errors import PhantomFixError
from offlineimap_phantomfix.interrupt import Interrupted, InterruptGuard
from offlineimap_phantomfix.sanitize import clean_text

MAX_UID = 2 ** 32 - 1  # RFC 3501: a UID is a non-zero 32-bit number


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
        epilog="Exit status: 0 success, 1 handled error, 2 usage error, 130 interrupted (Ctrl-C), 143 terminated "
               "(SIGTERM).",
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
    except Exception as error:
        words = configuration_code_failure(error)
        if words is None:
            raise  # a defect of ours: the traceback is what a bug report needs
        sys.stderr.write(f"{PROG}: error: {words}; {guard.describe()}\n")
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

