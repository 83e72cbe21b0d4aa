"""Read offlineimaprc for the helper command: accounts, their remote repository, and where our state lives.

The file is found the way offlineimap finds it. Every problem becomes a one-line ``ConfigError`` or
``NotFoundError``; nothing here connects to a server.
"""

from __future__ import annotations

import ast
import configparser
import os
from collections.abc import Mapping
from pathlib import Path

from offlineimap.CustomConfig import CustomConfigParser

from offlineimap_phantomfix.errors import ConfigError, NotFoundError
from offlineimap_phantomfix.options import PhantomOptions, parse_options, state_directory
from offlineimap_phantomfix.sanitize import clean_text

PHANTOMSAFE_TYPES = ("PhantomSafeIMAP", "PhantomSafeGmail")
DEFAULT_METADATA = "~/.offlineimap"


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/offlineimap/config`` (``~/.config`` when unset) if it exists, else ``~/.offlineimaprc``."""
    env = os.environ if environ is None else environ
    xdg_home = env.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    candidate = Path(xdg_home) / "offlineimap" / "config"
    if candidate.exists():
        return candidate
    return Path(os.path.expanduser("~/.offlineimaprc"))


def parse_error_text(error: configparser.Error) -> str:
    """A parse error as one line that names the line number (configparser puts it on a second line)."""
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno}: {_shown_line(error.line)} comes before any [section] header"
    errors = getattr(error, "errors", None)
    if isinstance(error, configparser.ParsingError) and errors:
        shown = "; ".join(f"line {number}: {_shown_line(text)}" for number, text in errors[:3])
        return f"cannot parse {shown} (not 'name = value', not a [section])" + (" ..." if len(errors) > 3 else "")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines) if lines else type(error).__name__


def _shown_line(text: object) -> str:
    line = str(text)
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":  # configparser stores repr() of the line
        try:
            line = str(ast.literal_eval(line))
        except (ValueError, SyntaxError):
            pass
    words = line.split()
    # only the first word: the rest of a malformed line may be a password
    return repr(clean_text(words[0], limit=40) + (" ..." if len(words) > 1 else "")) if words else "''"


def interpolation_text(section: str, option: str) -> str:
    """Why an option cannot be read, without quoting its value (it may be a password)."""
    return (f"[{section}] {option} cannot be read: a '%' in it must be written '%%' "
            f"(offlineimap's configuration expands %(name)s references)")


class PhantomConfig:
    """A parsed offlineimaprc (offlineimap's own parser, so its syntax rules apply)."""

    def __init__(self, path: Path, parser: CustomConfigParser) -> None:
        self.path = path
        self.parser = parser

    @classmethod
    def load(cls, path: Path | None = None) -> PhantomConfig:
        target = Path(os.path.expanduser(str(path))) if path is not None else default_config_path()
        if not target.exists():
            raise ConfigError(f"config file {target} does not exist (use -c FILE)")
        parser = CustomConfigParser()
        try:
            with open(target, encoding="utf-8") as handle:
                parser.read_file(handle, source=str(target))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read config file {target}: {error}") from None
        except configparser.Error as error:
            raise ConfigError(f"config file {target} is not valid: {parse_error_text(error)}") from None
        except ValueError as error:  # e.g. an interpolation syntax check while reading
            raise ConfigError(f"config file {target} is not valid: {str(error).splitlines()[0]}") from None
        return cls(target, parser)

    def _get(self, section: str, option: str, default: str | None = None) -> str | None:
        try:
            if self.parser.has_option(section, option):
                return str(self.parser.get(section, option))
        except configparser.InterpolationError:
            raise ConfigError(interpolation_text(section, option)) from None
        except configparser.Error as error:
            raise ConfigError(f"[{section}] {option}: {str(error).splitlines()[0]}") from None
        return default

    def accounts(self) -> list[str]:
        """The accounts named in ``[general] accounts``."""
        value = self._get("general", "accounts")
        if value is None:
            raise ConfigError(f"{self.path}: [general] accounts is missing")
        return [name.strip() for name in value.split(",") if name.strip()]

    def check_account(self, account: str) -> None:
        if account not in self.accounts() and not self.parser.has_section(f"Account {account}"):
            raise NotFoundError(f"no account {account!r} in {self.path} (accounts: {', '.join(self.accounts())})")
        if not self.parser.has_section(f"Account {account}"):
            raise ConfigError(f"{self.path}: section [Account {account}] is missing")

    def remote_repository(self, account: str) -> str:
        """The name of the account's remote repository (its section exists)."""
        self.check_account(account)
        name = self._get(f"Account {account}", "remoterepository")
        if not name:
            raise ConfigError(f"[Account {account}] remoterepository is missing")
        if not self.parser.has_section(f"Repository {name}"):
            raise ConfigError(f"section [Repository {name}] (remote repository of {account!r}) is missing")
        return name.strip()

    def remote_type(self, account: str) -> str:
        return (self._get(f"Repository {self.remote_repository(account)}", "type") or "").strip()

    def metadata_dir(self) -> Path:
        value = self._get("general", "metadata", DEFAULT_METADATA) or DEFAULT_METADATA
        return Path(os.path.expandvars(os.path.expanduser(value)))

    def phantom_options(self, account: str) -> PhantomOptions:
        """The ``phantom_*`` options of the account's remote repository. Only those are read (and interpolated,
        as the sync does): the other options of the section, passwords among them, are never looked at."""
        section = f"Repository {self.remote_repository(account)}"
        values: dict[str, str] = {}
        for key in self.parser.options(section):
            if key.lower().startswith("phantom_"):
                values[key] = self._get(section, key) or ""
        return parse_options(values, section=section)

    def state_dir(self, account: str) -> Path:
        """Where the store, quarantine and reports of this account live (same rule as the sync uses)."""
        return state_directory(self.metadata_dir(), self.phantom_options(account))

    def state_dirs(self, account: str | None = None) -> dict[Path, list[str]]:
        """Distinct state directories, each with the accounts that use it (one account, or all)."""
        result: dict[Path, list[str]] = {}
        for name in [account] if account is not None else self.accounts():
            result.setdefault(self.state_dir(name), []).append(name)
        return result

    def option_problems(self, account: str) -> list[str]:
        """What is wrong with the typed options offlineimap reads for this account (see :mod:`optioncheck`)."""
        from offlineimap_phantomfix import optioncheck

        sections = (("general", optioncheck.GENERAL), (f"Account {account}", optioncheck.ACCOUNT),
                    (f"Repository {self.remote_repository(account)}", optioncheck.REMOTE))
        problems: list[str] = []
        for section, table in sections:
            values = {option: self._get(section, option) or "" for option in table
                      if self.parser.has_option(section, option)}
            problems += optioncheck.check_section(section, values, table)
        return problems

