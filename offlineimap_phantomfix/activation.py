"""Glue: make ``type = PhantomSafeIMAP`` / ``PhantomSafeGmail`` known to a stock offlineimap.

offlineimap's repository factory (``offlineimap.repository.Repository.__new__``) only knows a fixed table of
types. ``install()`` wraps that factory: for a remote repository whose ``type`` names one of ours it builds
our class, and for everything else it calls the original factory unchanged.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

_MARK = "_offlineimap_phantomfix_factory"


def remote_types() -> dict[str, type]:
    """The repository types this package adds, by the name used in ``type =``."""
    from offlineimap_phantomfix.repository import PhantomSafeGmailRepository, PhantomSafeIMAPRepository

    return {"PhantomSafeIMAP": PhantomSafeIMAPRepository, "PhantomSafeGmail": PhantomSafeGmailRepository}


def _configured_type(account: Any, name: str | None) -> str | None:
    if not name:
        return None
    config = account.getconfig()
    section = "Repository " + name
    if not config.has_section(section) or not config.has_option(section, "type"):
        return None
    return str(config.get(section, "type")).strip()


def install() -> None:
    """Teach offlineimap's repository factory our types. Safe to call more than once."""
    from offlineimap.repository import Repository

    current = Repository.__dict__["__new__"]
    original: Callable[..., Any] = current.__func__ if isinstance(current, staticmethod) else current
    if getattr(original, _MARK, False):
        return

    def phantomsafe_factory(cls: type, account: Any, reqtype: str) -> Any:
        if reqtype == "remote":
            name = account.getconf("remoterepository")
            repository_class = remote_types().get(_configured_type(account, name) or "")
            if repository_class is not None:
                return repository_class(name, account)
        return original(cls, account, reqtype)

    setattr(phantomsafe_factory, _MARK, True)
    Repository.__new__ = staticmethod(phantomsafe_factory)


def run_offlineimap(argv: list[str] | None = None) -> int:
    """``offlineimap-phantomsafe``: offlineimap itself, same arguments, with our types installed.
    ``--version`` names both: ``offlineimap-phantomsafe: offlineimap-phantomfix X, offlineimap Y``."""
    from offlineimap_phantomfix.offlineimap_home import make_offlineimap_importable

    make_offlineimap_importable()
    import offlineimap
    from offlineimap import OfflineImap  # offlineimap.init.main is missing from Debian's offlineimap3 build

    from offlineimap_phantomfix import __version__

    arguments = list(argv) if argv is not None else sys.argv[1:]
    if "--version" in arguments:
        print(f"offlineimap-phantomsafe: offlineimap-phantomfix {__version__}, "
              f"offlineimap {getattr(offlineimap, '__version__', 'unknown')}")
        return 0
    install()
    sys.argv = ["offlineimap", *arguments]
    # Like offlineimap's own scripts, ignore run()'s result: failures exit through sys.exit inside it.
    OfflineImap().run()
    return 0
