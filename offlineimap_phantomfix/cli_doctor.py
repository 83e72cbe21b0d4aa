"""``doctor``: run the checks of :mod:`~offlineimap_phantomfix.checkup` in order, one line each
(``<verdict> <what>: <detail>``); the exit status is 1 when any line is an error."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Callable

from offlineimap_phantomfix.cli_common import EXIT_ERROR, EXIT_OK, load_config, out
from offlineimap_phantomfix.configcode import configuration_code_failure
from offlineimap_phantomfix.errors import PhantomFixError
from offlineimap_phantomfix.sanitize import clean_text


class _Doctor:
    """Collects one line per check: ``<verdict> <what>: <detail>``."""

    WIDTH = 8

    def __init__(self) -> None:
        self.errors = 0

    def line(self, verdict: str, what: str, detail: str) -> None:
        if verdict == "error":
            self.errors += 1
        out(f"{verdict:<{self.WIDTH}}{what}: {clean_text(detail)}")

    def run(self, name: str, check: Callable[[], tuple[str, str]]) -> None:
        try:
            verdict, detail = check()
        except PhantomFixError as error:
            verdict, detail = "error", str(error)
        except Exception as error:  # the configuration's own code (a nametrans...) is one check's error
            words = configuration_code_failure(error)
            if words is None:
                raise
            verdict, detail = "error", words
        self.line(verdict, name, detail)


def cmd_doctor(args: argparse.Namespace) -> int:
    from offlineimap_phantomfix import checkup
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES

    doctor = _Doctor()
    try:
        config = load_config(args.config)
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
        doctor.run("activation", partial(checkup.check_activation, config, ours))
        for verdict, what, detail in checkup.check_offlineimap(args.offlineimap):
            doctor.line(verdict, what, detail)
    seen_dirs: dict[Path, str] = {}
    for account in accounts:
        label = f"account {account}"
        doctor.run(f"{label}: type", partial(checkup.check_type, config, account))
        doctor.run(f"{label}: options", partial(checkup.check_options, config, account))
        doctor.run(f"{label}: Maildir", partial(checkup.check_notices, config, account))
        doctor.run(f"{label}: server settings", partial(checkup.check_connection_settings, config, account))
        try:
            directory = config.state_dir(account)
        except PhantomFixError:
            continue  # the options line above already says why
        if directory in seen_dirs:
            doctor.line("ok", f"{label}: state directory", f"{directory} (shared with account {seen_dirs[directory]})")
            continue
        seen_dirs[directory] = account
        doctor.run(f"{label}: state directory", partial(checkup.check_state_dir, directory))
        doctor.run(f"{label}: store", partial(checkup.check_store, directory))
        doctor.run(f"{label}: quarantine", partial(checkup.check_quarantine, directory))
    return EXIT_ERROR if doctor.errors else EXIT_OK
