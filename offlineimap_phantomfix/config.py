"""Read offlineimaprc for the helper command: accounts, their remote repository, and where our state lives.

The file is found the way offlineimap finds it. Every problem becomes a one-line ``ConfigError`` or
``NotFoundError``; nothing here connects to a server.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

from offlineimap.CustomConfig import CustomConfigParser

from offlineimap_phantomfix.errors import ConfigError, NotFoundError
from offlineimap_phantomfix.options import PhantomOptions, parse_options, state_directory

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
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(f"config file {target} is not valid: {first_line}") from None
        return cls(target, parser)

    def _get(self, section: str, option: str, default: str | None = None) -> str | None:
        try:
            if self.parser.has_option(section, option):
                return str(self.parser.get(section, option))
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
        section = f"Repository {self.remote_repository(account)}"
        try:
            values = dict(self.parser.items(section))
        except configparser.Error as error:
            raise ConfigError(f"[{section}]: {str(error).splitlines()[0]}") from None
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
