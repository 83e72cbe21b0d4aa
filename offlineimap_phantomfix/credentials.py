"""Glue: offlineimap's password and token sources, and ``[general] pythonfile``, with failures told as such.

A failing password source (``remotepasseval``, ``remotepassfile``, netrc) is a :class:`PasswordSourceFailed`,
not a connection failure, and its message never quotes the value. Every password and token offlineimap hands
out is registered with the transcript, which scrubs it from everything rendered.
"""

from __future__ import annotations

import configparser
from typing import Any

from offlineimap_phantomfix.config import interpolation_text
from offlineimap_phantomfix.errors import ConfigError
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.transcript import Transcript

__all__ = ["PasswordSourceFailed", "describe_error", "first_line", "guard_secrets", "load_pythonfile"]


class PasswordSourceFailed(Exception):
    """The configured password source (remotepasseval, remotepassfile, netrc, keyring) failed."""


def _password_source(parser: Any, section: str) -> str:
    for option in ("remotepasseval", "remotepass", "remotepassfile"):
        if parser.has_option(section, option):
            return option
    return "netrc"


def guard_secrets(server: Any, repository: Any, transcript: Transcript) -> None:
    """Password and token sources, wrapped: their failures are told apart from connection failures (without
    their values), and every secret they hand out is scrubbed from the transcript."""
    from offlineimap import OfflineImapError

    section = f"Repository {repository.getname()}"
    original = repository.getpassword

    def getpassword(*args: Any, **kwargs: Any) -> Any:
        source = _password_source(repository.config, section)
        try:
            value = original(*args, **kwargs)
        except ModuleNotFoundError:
            raise
        except configparser.InterpolationError as error:
            raise PasswordSourceFailed(interpolation_text(error.section, error.option)) from None
        except SyntaxError as error:
            raise PasswordSourceFailed(f"[{section}] {source} is not a Python expression "
                                        f"({error.msg})") from None
        except OfflineImapError as error:  # offlineimap's own words name the file or type, never the value
            raise PasswordSourceFailed(f"[{section}] {source}: {first_line(str(error))}") from None
        except Exception as error:
            if source == "netrc" and type(error).__module__.startswith("keyring"):
                raise  # no password configured at all, and keyring has no backend: the session says just that
            kind = type(error).__name__
            raise PasswordSourceFailed(f"[{section}] {source} failed ({kind}; the value is not shown)") from None
        if isinstance(value, str):
            transcript.add_secret(value, user=str(server.username or ""))
        return value

    repository.getpassword = getpassword
    for name in ("oauth2_refresh_token", "oauth2_client_secret", "oauth2_access_token"):
        value = getattr(server, name, None)
        if isinstance(value, str):
            transcript.add_secret(value)
    getter = getattr(server, "oauth2_access_token_getter", None)
    if callable(getter):
        def token() -> Any:
            value = getter()
            if isinstance(value, str):
                transcript.add_secret(value)
            return value

        server.oauth2_access_token_getter = token


def load_pythonfile(parser: Any) -> None:
    """Load ``[general] pythonfile`` now, so that its errors are told as such (offlineimap loads it lazily)."""
    if not parser.has_option("general", "pythonfile"):
        return
    try:
        parser.getlocaleval()
    except SyntaxError as error:
        where = f" line {error.lineno}" if error.lineno else ""
        raise ConfigError(f"[general] pythonfile {error.filename or ''}{where}: {error.msg}") from None
    except configparser.InterpolationError as error:
        raise ConfigError(interpolation_text(error.section, error.option)) from None
    except Exception as error:  # the file ran and raised, or cannot be read
        raise ConfigError(f"[general] pythonfile: {first_line(describe_error(error))}") from None


def describe_error(error: BaseException) -> str:
    """An exception as words, also when it has no message (rfc6555 raises a bare ``OSError`` with errno)."""
    errno_value = getattr(error, "errno", None)
    if isinstance(error, OSError) and not str(error) and isinstance(errno_value, int):
        import os

        return os.strerror(errno_value)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return clean_text(" ".join(lines), limit=300) if lines else ""
