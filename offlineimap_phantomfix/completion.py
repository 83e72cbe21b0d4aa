"""Shell completion for ``offlineimap-phantomfix`` in bash and zsh, written from its argument parser (the same
walk as the manual page). ``python -m offlineimap_phantomfix.completion bash|zsh`` prints a script; ``make docs``
writes them to ``completions/``."""

from __future__ import annotations

import argparse
import sys

from offlineimap_phantomfix.manual import Command, Option, commands, global_options

__all__ = ["render_bash", "render_zsh"]

#: How the value of an option is completed, by its metavar: file names, command names, or nothing.
_FILE_VALUES = {"FILE"}
_PROGRAM_VALUES = {"PROGRAM"}


def _words(options: tuple[Option, ...]) -> str:
    return " ".join(flag for option in options for flag in option.flags)


def _valued(options: list[Option], metavars: set[str] | None = None) -> list[str]:
    return sorted({flag for option in options for flag in option.flags
                   if option.metavar is not None and (metavars is None or option.metavar in metavars)})


def render_bash(parser: argparse.ArgumentParser) -> str:
    program = parser.prog
    function = "_" + program.replace("-", "_")
    every = [*global_options(parser), *(option for command in commands(parser) for option in command.options)]
    lines = [
        f"# bash completion for {program}; generated from its argument parser (make docs).",
        f"{function}()",
        "{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" command="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        f"            {'|'.join(_valued(list(global_options(parser))))}) ((i++)) ;;",
        "            -*) ;;",
        '            *) command="${COMP_WORDS[i]}"; break ;;',
        "        esac",
        "    done",
        '    case "$prev" in',
        f'        {"|".join(_valued(every, _FILE_VALUES))}) COMPREPLY=($(compgen -f -- "$cur")); return ;;',
        f'        {"|".join(_valued(every, _PROGRAM_VALUES))}) COMPREPLY=($(compgen -c -- "$cur")); return ;;',
        f'        {"|".join(_valued(every))}) COMPREPLY=(); return ;;',
        "    esac",
        '    case "$command" in',
        f'        "") COMPREPLY=($(compgen -W "{" ".join(c.name for c in commands(parser))} '
        f'{_words(global_options(parser))} -h --help" -- "$cur")) ;;',
    ]
    for command in commands(parser):
        lines.append(f'        {command.name}) COMPREPLY=($(compgen -W "{_words(command.options)} -h --help" '
                     f'-- "$cur")) ;;')
    lines += ["    esac", "}", f"complete -F {function} {program}", ""]
    return "\n".join(lines)


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _zsh_specs(options: tuple[Option, ...]) -> list[str]:
    specs = []
    for option in options:
        action = ":file:_files" if option.metavar in _FILE_VALUES else \
            ":program:_command_names -e" if option.metavar in _PROGRAM_VALUES else \
            f":{option.metavar.lower()}: " if option.metavar else ""
        described = f"[{_zsh_help(option.help)}]{action}"
        if len(option.flags) > 1:
            exclusive = "(" + " ".join(option.flags) + ")"
            specs.append(_zsh_quote(exclusive) + "{" + ",".join(option.flags) + "}" + _zsh_quote(described))
        else:
            specs.append(_zsh_quote(option.flags[0] + described))
    return specs


def _zsh_command(command: Command) -> list[str]:
    specs = [*_zsh_specs(command.options), "'(- *)'{-h,--help}'[show the help of this command]'"]
    return [f"        {command.name})", "          _arguments \\",
            *(f"            {spec} \\" for spec in specs[:-1]), f"            {specs[-1]} ;;"]


def render_zsh(parser: argparse.ArgumentParser) -> str:
    program = parser.prog
    function = "_" + program.replace("-", "_")
    listed = [f"    {_zsh_quote(command.name + ':' + command.help.replace(':', chr(92) + ':'))}"
              for command in commands(parser)]
    lines = [
        f"#compdef {program}",
        f"# zsh completion for {program}; generated from its argument parser (make docs).",
        f"{function}() {{",
        "  local curcontext=\"$curcontext\" state line",
        "  local -a subcommands",
        "  subcommands=(",
        *listed,
        "  )",
        "  _arguments -C \\",
        *(f"    {spec} \\" for spec in _zsh_specs(global_options(parser))),
        "    '(- *)'{-h,--help}'[show the help]' \\",
        "    '1:command:->command' \\",
        "    '*::argument:->argument'",
        "  case $state in",
        "    command) _describe -t commands 'command' subcommands ;;",
        "    argument)",
        "      case $line[1] in",
    ]
    for command in commands(parser):
        lines += _zsh_command(command)
    lines += ["      esac ;;", "  esac", "}", f'{function} "$@"', ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from offlineimap_phantomfix.cli import build_parser

    shell = (argv if argv is not None else sys.argv[1:])[:1]
    renderers = {"bash": render_bash, "zsh": render_zsh}
    if not shell or shell[0] not in renderers:
        sys.stderr.write("usage: python -m offlineimap_phantomfix.completion bash|zsh\n")
        return 2
    sys.stdout.write(renderers[shell[0]](build_parser()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
