"""``probe``, ``purge`` and ``adopt``: the commands that open the account the way offlineimap does, to ask the
server about one message, delete one phantom, or move stored substitute notices to the quarantine."""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from offlineimap_phantomfix.cli_common import EXIT_ERROR, EXIT_OK, PROG, load_config, out
from offlineimap_phantomfix.errors import PhantomFixError
from offlineimap_phantomfix.sanitize import clean_text


def _optional_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"offlineimap_phantomfix.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"offlineimap_phantomfix.{name}":
            raise PhantomFixError(f"'{name}' is not available in this installation") from None
        raise


def _progress(command: str) -> Any:
    from offlineimap_phantomfix.progress import Progress
    from offlineimap_phantomfix.session import latest_transcript

    return Progress(lambda line: out(f"{PROG}: {command}: {clean_text(line)}", sys.stderr), latest_transcript)


# --- probe ----------------------------------------------------------------------------------------------

def cmd_probe(args: argparse.Namespace) -> int:
    config = load_config(args.config)
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
        out(f"transcript written to {output}", sys.stderr)
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


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (an existing file is truncated and tightened)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
    except OSError as error:
        raise PhantomFixError(f"cannot write {path}: {error.strerror or error}") from None


# --- purge ----------------------------------------------------------------------------------------------

def cmd_purge(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.check_account(args.account)
    purge = _optional_module("purge")
    if args.yes and getattr(args, "guard", None) is not None:
        args.guard.describe = partial(_purge_progress, args.uid)
    with _progress("purge"):
        result = purge.run_purge(config, args.account, args.folder, args.uid, yes=args.yes)
    for line in result.lines:
        out(clean_text(str(line)))
    if not args.yes:
        if any(str(line).startswith("would refuse") for line in result.lines):
            out("nothing was changed; --yes would refuse this too (see above).")
            return EXIT_ERROR
        out("nothing was changed; run again with --yes to do this.")
        return EXIT_OK
    return EXIT_OK if result.done else EXIT_ERROR


def _purge_progress(uid: int) -> str:
    from offlineimap_phantomfix.interrupt import purge_progress
    from offlineimap_phantomfix.session import latest_transcript

    transcript = latest_transcript()
    if transcript is None:
        return "nothing was changed on the server (not connected yet)"
    return purge_progress(transcript.answered, uid)


# --- adopt ----------------------------------------------------------------------------------------------

def cmd_adopt(args: argparse.Namespace) -> int:
    if args.folder is not None and args.account is None:
        args.subparser.error("--folder needs --account")
    config = load_config(args.config)
    from offlineimap_phantomfix.adopt import run_adopt

    for account in [args.account] if args.account is not None else config.accounts():
        config.check_account(account)
        run_adopt(config, account, folder=args.folder, yes=args.yes, say=_say)
    return EXIT_OK


def _say(line: str) -> None:
    out(line)
    sys.stdout.flush()
