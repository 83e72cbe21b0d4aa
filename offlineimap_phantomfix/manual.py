"""The manual page of ``offlineimap-phantomfix``, written from its argument parser, so that the page and
``--help`` never disagree. ``python -m offlineimap_phantomfix.manual`` prints it (``make docs`` writes
``man/offlineimap-phantomfix.1``); :func:`commands` is the same walk of the parser that the shell completions use.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

__all__ = ["Command", "Option", "commands", "global_options", "render_manpage"]


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    metavar: str | None  # None for a flag that takes no value
    help: str
    required: bool


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    options: tuple[Option, ...]
    synopsis: str  # e.g. "(--all | --account ACCOUNT) [--folder FOLDER]"


def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    found = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        metavar = None if action.nargs == 0 else str(action.metavar or action.dest.upper())
        found.append(Option(tuple(action.option_strings), metavar, str(action.help or ""), bool(action.required)))
    return tuple(found)


def _synopsis(parser: argparse.ArgumentParser) -> str:
    grouped = {id(action): group for group in parser._mutually_exclusive_groups for action in group._group_actions}
    done: set[int] = set()
    parts: list[str] = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction) or id(action) in done:
            continue
        group = grouped.get(id(action))
        members = group._group_actions if group is not None else [action]
        done.update(id(member) for member in members)
        words = " | ".join(_usage_word(member) for member in members)
        required = group.required if group is not None else action.required
        parts.append(("(" + words + ")" if len(members) > 1 else words) if required else "[" + words + "]")
    return " ".join(parts)


def _usage_word(action: argparse.Action) -> str:
    flag = action.option_strings[-1]
    return flag if action.nargs == 0 else f"{flag} {action.metavar or action.dest.upper()}"


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))


def global_options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    return _options(parser)


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Each subcommand with its help line, description, options and synopsis, in the parser's order."""
    action = _subparsers(parser)
    helps = {choice.dest: str(choice.help or "") for choice in action._choices_actions}
    return [Command(name, helps.get(name, ""), str(sub.description or ""), _options(sub), _synopsis(sub))
            for name, sub in action.choices.items()]


# --- roff -------------------------------------------------------------------------------------------------

def _roff(text: str) -> str:
    """Plain text as roff: backslashes escaped, hyphens as minus signs, no line starting with a control dot."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in escaped.splitlines())


def _option_item(option: Option) -> list[str]:
    value = f" \\fI{_roff(option.metavar)}\\fR" if option.metavar else ""
    flags = ", ".join(f"\\fB{_roff(flag)}\\fR{value}" for flag in option.flags)
    return [".TP", flags, _roff(option.help[:1].upper() + option.help[1:] + ("" if option.help.endswith(".")
                                                                              else "."))]


_FILES = (
    ("$XDG_CONFIG_HOME/offlineimap/config, ~/.offlineimaprc",
     "The offlineimap configuration read by default (as offlineimap reads it)."),
    ("~/.offlineimap/phantomfix/phantoms.sqlite3",
     "The skip list and the phantom records (the directory is phantom_dir when that option is set)."),
    ("~/.offlineimap/phantomfix/quarantine/ACCOUNT/",
     "The quarantine, a Maildir per account, readable with Mutt or notmuch."),
    ("~/.offlineimap/phantomfix/report-ACCOUNT.txt", "The report written after each sync of that account."),
)


def render_manpage(parser: argparse.ArgumentParser) -> str:
    """The whole page, in man(7) macros."""
    program = parser.prog
    lines = [
        f'.TH {_roff(program.upper())} 1 "" "{_roff(program)}" "User Commands"',
        ".nh",
        ".ad l",
        ".SH NAME",
        f"{_roff(program)} \\- {_roff(str(parser.description or '').rstrip('.'))}",
        ".SH SYNOPSIS",
        f"\\fB{_roff(program)}\\fR [\\fB\\-c\\fR \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIOPTION\\fR]...",
        ".SH DESCRIPTION",
        _roff("Tells what the PhantomSafeIMAP and PhantomSafeGmail repository types of offlineimap recorded about "
              "messages a server lists but will not deliver (phantoms), and acts on one of them: fetch it again "
              "on the next sync, probe the server about it, or delete it on the server."),
        ".SH OPTIONS",
    ]
    for option in global_options(parser):
        lines += _option_item(option)
    lines.append(".SH COMMANDS")
    for command in commands(parser):
        lines += [f".SS {_roff(command.name)}", f"\\fB{_roff(program)} {_roff(command.name)}\\fR "
                  f"{_roff(command.synopsis)}".rstrip(), ".br", _roff(command.description)]
        for option in command.options:
            lines += _option_item(option)
    lines += [".SH EXIT STATUS", _roff(str(parser.epilog or "")), ".SH FILES"]
    for path, meaning in _FILES:
        lines += [".TP", f"\\fI{_roff(path)}\\fR", _roff(meaning)]
    lines += [".SH SEE ALSO",
              "\\fBofflineimap\\fR(1), \\fBofflineimap-phantomsafe\\fR(1), \\fBmutt\\fR(1), \\fBnotmuch\\fR(1)", ""]
    return "\n".join(lines)


def main() -> int:
    from offlineimap_phantomfix.cli import build_parser

    sys.stdout.write(render_manpage(build_parser()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
