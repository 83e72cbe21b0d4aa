"""The commands before a mailbox is selected: capability, STARTTLS, login, the mailbox list, APPEND and IDLE."""

from __future__ import annotations

import base64
import binascii
import re
import ssl
from datetime import datetime

from ..mime import to_crlf
from .connection import _ConnectionBase, _Context
from .faults import BYE_LOGOUT, INVALID_STATE_TEXT
from .model import _Folder
from .wire import SYSTEM_FLAGS, ProtocolError, String, Token, normalise_flag, parse_internaldate, quote, text_of

_SELECT_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$MDNSent")


class _SessionCommands(_ConnectionBase):
    """Commands valid in any state, before login, and once logged in."""

    # --- commands: any state
    def cmd_capability(self, ctx: _Context, args: list[Token]) -> None:
        self.send("* CAPABILITY " + " ".join(self.emu.capabilities))
        self.tagged(ctx.tag, "OK", "CAPABILITY completed.")

    def cmd_noop(self, ctx: _Context, args: list[Token]) -> None:
        self.tagged(ctx.tag, "OK", "NOOP completed.")

    def cmd_check(self, ctx: _Context, args: list[Token]) -> None:
        self.tagged(ctx.tag, "OK", "CHECK completed.")

    def cmd_logout(self, ctx: _Context, args: list[Token]) -> None:
        self.send(BYE_LOGOUT)
        self.tagged(ctx.tag, "OK", "LOGOUT completed.")
        self.close_connection()

    def cmd_id(self, ctx: _Context, args: list[Token]) -> None:
        self.send('* ID ("name" "offlineimap-phantomfix IMAP emulator")')
        self.tagged(ctx.tag, "OK", "ID completed.")

    def cmd_starttls(self, ctx: _Context, args: list[Token]) -> None:
        if not self.emu.starttls or isinstance(self.request, ssl.SSLSocket):
            self.tagged(ctx.tag, "BAD", "Command Error. 12")
            return
        self.tagged(ctx.tag, "OK", "Begin TLS negotiation now.")
        self.upgrade = True

    # --- not authenticated
    def cmd_login(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 2:
            raise ProtocolError("LOGIN needs user and password")
        self.login(ctx, text_of(args[0]), text_of(args[1]))

    def login(self, ctx: _Context, user: str, password: str) -> None:
        if self.authenticated:
            self.tagged(ctx.tag, "BAD", INVALID_STATE_TEXT)
        elif self.emu._logins_to_refuse > 0:
            self.emu._logins_to_refuse -= 1
            self.tagged(ctx.tag, "NO", f"{ctx.command} failed: server busy.")
        elif user == self.emu.user and password == self.emu.password:
            self.authenticated = True
            self.tagged(ctx.tag, "OK", f"{ctx.command} completed.")
        else:
            self.tagged(ctx.tag, "NO", f"{ctx.command} failed.")

    def cmd_authenticate(self, ctx: _Context, args: list[Token]) -> None:
        if not args or text_of(args[0]).upper() != "PLAIN":
            self.tagged(ctx.tag, "NO", "The specified authentication mechanism is not supported.")
            self.flush()
            return
        if len(args) > 1:
            response = text_of(args[1]).encode("ascii", errors="replace")
        else:
            self.send("+ ")
            self.flush()
            response = self.read_line().strip()
        if response == b"*":
            self.tagged(ctx.tag, "BAD", "AUTHENTICATE cancelled.")
            self.flush()
            return
        try:
            decoded = base64.b64decode(response, validate=True)
            _authzid, user, password = decoded.split(b"\0", 2)
        except (binascii.Error, ValueError):
            self.tagged(ctx.tag, "NO", "AUTHENTICATE failed.")
            self.flush()
            return
        with self.emu.lock:
            self.login(ctx, user.decode("utf-8", "replace"), password.decode("utf-8", "replace"))
        self.flush()

    # --- authenticated
    def cmd_namespace(self, ctx: _Context, args: list[Token]) -> None:
        self.send('* NAMESPACE (("" "/")) NIL NIL')
        self.tagged(ctx.tag, "OK", "NAMESPACE completed.")

    def cmd_list(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 2:
            raise ProtocolError("LIST needs reference and pattern")
        reference, pattern = text_of(args[0]), text_of(args[1])
        verb = ctx.command
        if pattern == "":
            self.send(f'* {verb} (\\Noselect) "/" ""')
            self.tagged(ctx.tag, "OK", f"{verb} completed.")
            return
        full = reference + pattern
        regex = "".join(
            ".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in full
        )
        names = sorted(self.emu._folders, key=lambda n: (n != "INBOX", n.lower()))
        for name in names:
            target = name
            matched = re.fullmatch(regex, name) is not None
            if not matched and name == "INBOX":
                matched = re.fullmatch(regex, name, re.IGNORECASE) is not None
            if not matched:
                continue
            children = any(other.startswith(name + "/") for other in names)
            flag = "\\HasChildren" if children else "\\HasNoChildren"
            self.send(f'* {verb} ({flag}) "/" '.encode() + quote(target))
        self.tagged(ctx.tag, "OK", f"{verb} completed.")

    def cmd_create(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 1:
            raise ProtocolError("CREATE needs a mailbox")
        name = self.resolve_mailbox(args[0]).rstrip("/")
        ctx.folder = name
        if not name or name in self.emu._folders:
            self.tagged(ctx.tag, "NO", "Mailbox already exists.")
            return
        self.emu._folders[name] = _Folder(name, uidvalidity=1)
        self.tagged(ctx.tag, "OK", "CREATE completed.")

    def cmd_delete(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 1:
            raise ProtocolError("DELETE needs a mailbox")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        if name == "INBOX" or name not in self.emu._folders:
            self.tagged(ctx.tag, "NO", "DELETE failed.")
            return
        del self.emu._folders[name]
        self.tagged(ctx.tag, "OK", "DELETE completed.")

    def cmd_subscribe(self, ctx: _Context, args: list[Token]) -> None:
        self.tagged(ctx.tag, "OK", f"{ctx.command} completed.")

    def cmd_select(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) < 1:
            raise ProtocolError("SELECT needs a mailbox")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        self.selected = None
        self.view = []
        folder = self.emu._folders.get(name)
        if folder is None:
            self.tagged(ctx.tag, "NO", f"{ctx.command} failed.")
            return
        self.selected = name
        self.readonly = ctx.command == "EXAMINE"
        self.view = [m.uid for m in folder.messages]
        keywords = sorted({f for m in folder.messages for f in m.flags if f not in SYSTEM_FLAGS})
        flag_list = " ".join([*_SELECT_FLAGS, *keywords])
        self.send(f"* {len(self.view)} EXISTS")
        self.send("* 0 RECENT")
        self.send(f"* FLAGS ({flag_list})")
        self.send(f"* OK [PERMANENTFLAGS ({flag_list} \\*)] Permanent flags")
        unseen = next((i + 1 for i, m in enumerate(folder.messages) if "\\Seen" not in m.flags), None)
        if unseen is not None:
            self.send(f"* OK [UNSEEN {unseen}] Is the first unseen message")
        self.send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDVALIDITY value")
        self.send(f"* OK [UIDNEXT {folder.next_uid}] The next unique identifier value")
        mode = "READ-ONLY" if self.readonly else "READ-WRITE"
        self.tagged(ctx.tag, "OK", f"[{mode}] {ctx.command} completed.")

    def cmd_status(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 2 or not isinstance(args[1], list):
            raise ProtocolError("STATUS needs a mailbox and a list")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        folder = self.emu._folders.get(name)
        if folder is None:
            self.tagged(ctx.tag, "NO", "STATUS failed.")
            return
        values = {
            "MESSAGES": len(folder.messages),
            "RECENT": 0,
            "UIDNEXT": folder.next_uid,
            "UIDVALIDITY": folder.uidvalidity,
            "UNSEEN": sum(1 for m in folder.messages if "\\Seen" not in m.flags),
        }
        out = []
        for item in args[1]:
            key = text_of(item).upper()
            if key not in values:
                raise ProtocolError(f"unknown status item {key}")
            out.append(f"{key} {values[key]}")
        self.send(b"* STATUS " + quote(name) + (" (" + " ".join(out) + ")").encode())
        self.tagged(ctx.tag, "OK", "STATUS completed.")

    def cmd_append(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) < 2:
            raise ProtocolError("APPEND needs a mailbox and a message")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        rest = args[1:]
        flags: set[str] = set()
        when: datetime | None = None
        if rest and isinstance(rest[0], list):
            flags = {normalise_flag(text_of(t)) for t in rest[0]}
            rest = rest[1:]
        if len(rest) == 2:
            when = parse_internaldate(text_of(rest[0]))
            rest = rest[1:]
        if len(rest) != 1 or not isinstance(rest[0], String):
            raise ProtocolError("APPEND message literal expected")
        folder = self.emu._folders.get(name)
        if folder is None:
            self.tagged(ctx.tag, "NO", "[TRYCREATE] Mailbox does not exist.")
            return
        msg = self.emu._store(folder, to_crlf(rest[0].data), flags - {"\\Recent"}, when)
        ctx.uids = (msg.uid,)
        code = f"[APPENDUID {folder.uidvalidity} {msg.uid}] " if self.emu.uidplus else ""
        self.tagged(ctx.tag, "OK", f"{code}APPEND completed.")

    def cmd_idle(self, ctx: _Context, args: list[Token]) -> None:
        self.send("+ IDLE accepted, awaiting DONE command.")
        self.flush()
        while True:
            line = self.read_line().strip()
            if line.upper() == b"DONE":
                break
            with self.emu.lock:
                if self.selected is not None:
                    self.sync_view()
            self.flush()
        with self.emu.lock:
            self.may_sync = True
            self.tagged(ctx.tag, "OK", "IDLE completed.")
