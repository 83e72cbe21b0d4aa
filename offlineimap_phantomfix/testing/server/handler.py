"""The connection handler the emulator runs: both sets of commands, and the table that dispatches to them."""

from __future__ import annotations

from typing import ClassVar

from .commands import _SessionCommands
from .connection import Handler
from .selected import _SelectedCommands


class _Connection(_SessionCommands, _SelectedCommands):
    """One client connection, served in its own thread; a command runs if its state (any, auth, selected) holds."""

    HANDLERS: ClassVar[dict[str, tuple[Handler, str]]] = {
        "CAPABILITY": (_SessionCommands.cmd_capability, "any"),
        "NOOP": (_SessionCommands.cmd_noop, "any"),
        "LOGOUT": (_SessionCommands.cmd_logout, "any"),
        "ID": (_SessionCommands.cmd_id, "any"),
        "STARTTLS": (_SessionCommands.cmd_starttls, "any"),
        "LOGIN": (_SessionCommands.cmd_login, "any"),
        "AUTHENTICATE": (_SessionCommands.cmd_authenticate, "any"),
        "NAMESPACE": (_SessionCommands.cmd_namespace, "auth"),
        "LIST": (_SessionCommands.cmd_list, "auth"),
        "LSUB": (_SessionCommands.cmd_list, "auth"),
        "CREATE": (_SessionCommands.cmd_create, "auth"),
        "DELETE": (_SessionCommands.cmd_delete, "auth"),
        "SUBSCRIBE": (_SessionCommands.cmd_subscribe, "auth"),
        "UNSUBSCRIBE": (_SessionCommands.cmd_subscribe, "auth"),
        "SELECT": (_SessionCommands.cmd_select, "auth"),
        "EXAMINE": (_SessionCommands.cmd_select, "auth"),
        "STATUS": (_SessionCommands.cmd_status, "auth"),
        "APPEND": (_SessionCommands.cmd_append, "auth"),
        "IDLE": (_SessionCommands.cmd_idle, "auth"),
        "CHECK": (_SessionCommands.cmd_check, "selected"),
        "CLOSE": (_SelectedCommands.cmd_close, "selected"),
        "UNSELECT": (_SelectedCommands.cmd_close, "selected"),
        "EXPUNGE": (_SelectedCommands.cmd_expunge, "selected"),
        "UID EXPUNGE": (_SelectedCommands.cmd_expunge, "selected"),
        "SEARCH": (_SelectedCommands.cmd_search, "selected"),
        "UID SEARCH": (_SelectedCommands.cmd_search, "selected"),
        "STORE": (_SelectedCommands.cmd_store, "selected"),
        "UID STORE": (_SelectedCommands.cmd_store, "selected"),
        "COPY": (_SelectedCommands.cmd_copy, "selected"),
        "UID COPY": (_SelectedCommands.cmd_copy, "selected"),
        "FETCH": (_SelectedCommands.cmd_fetch, "selected"),
        "UID FETCH": (_SelectedCommands.cmd_fetch, "selected"),
    }
