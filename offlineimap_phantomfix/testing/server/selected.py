"""The commands on the selected mailbox: CLOSE, EXPUNGE, SEARCH, STORE, COPY, and FETCH, where the faults act."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..mime import MimePart, parse_mime
from .connection import _ConnectionBase, _Context
from .faults import BYE_DROPPED, EXPUNGEISSUED_TEXT, PLACEHOLDER_FAULTS, REFUSED_BAD_TEXT, REFUSED_NO_TEXT, Fault
from .model import StoredMessage
from .search import _SearchParser
from .structure import FetchItem, bodystructure, envelope, parse_fetch_items, section_data
from .wire import (
    ProtocolError,
    Token,
    format_flags,
    format_internaldate,
    in_ranges,
    literal,
    normalise_flag,
    parse_set,
    text_of,
)


class _SelectedCommands(_ConnectionBase):
    """Commands that need a selected mailbox."""

    def cmd_close(self, ctx: _Context, args: list[Token]) -> None:
        if ctx.command == "CLOSE" and not self.readonly:
            box = self.box()
            box.messages = [m for m in box.messages if "\\Deleted" not in m.flags]
        self.selected = None
        self.view = []
        self.tagged(ctx.tag, "OK", f"{ctx.command} completed.")

    def cmd_expunge(self, ctx: _Context, args: list[Token]) -> None:
        if self.readonly:
            self.tagged(ctx.tag, "NO", "EXPUNGE failed: mailbox is read-only.")
            return
        box = self.box()
        ranges: list[tuple[int, int]] | None = None
        if ctx.command == "UID EXPUNGE":
            if len(args) != 1:
                raise ProtocolError("UID EXPUNGE needs a UID set")
            ranges = parse_set(text_of(args[0]), max((m.uid for m in box.messages), default=0))
        doomed = [
            m for m in box.messages if "\\Deleted" in m.flags and (ranges is None or in_ranges(m.uid, ranges))
        ]
        ctx.uids = tuple(m.uid for m in doomed)
        box.messages = [m for m in box.messages if m not in doomed]
        self.tagged(ctx.tag, "OK", "EXPUNGE completed.")

    def cmd_search(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        box = self.box()
        by_uid = {m.uid: m for m in box.messages}
        parser = _SearchParser(args, max(by_uid, default=0), len(self.view))
        predicate = parser.parse_all()
        hits = []
        for index, uid in enumerate(self.view):
            msg = by_uid.get(uid)
            if msg is not None and predicate(index + 1, msg):
                hits.append(uid if uid_mode else index + 1)
        self.send("* SEARCH" + "".join(f" {h}" for h in hits))
        self.tagged(ctx.tag, "OK", "SEARCH completed.")

    def cmd_store(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        if len(args) < 3:
            raise ProtocolError("STORE needs a set, an item and flags")
        action = text_of(args[1]).upper()
        match = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action)
        if not match:
            raise ProtocolError(f"unknown store item {action}")
        flag_tokens = args[2] if isinstance(args[2], list) else args[2:]
        flags = {normalise_flag(text_of(t)) for t in flag_tokens} - {"\\Recent"}
        targets = self.targets(text_of(args[0]), uid_mode)
        ctx.uids = tuple(m.uid for _, m in targets)
        if self.readonly:
            self.tagged(ctx.tag, "NO", "STORE failed: mailbox is read-only.")
            return
        for msn, msg in targets:
            if match.group(1) == "+":
                msg.flags |= flags
            elif match.group(1) == "-":
                msg.flags -= flags
            else:
                msg.flags = set(flags)
            if not match.group(2):
                uid_part = f"UID {msg.uid} " if uid_mode else ""
                self.send(f"* {msn} FETCH ({uid_part}FLAGS {format_flags(msg.flags)})")
        self.tagged(ctx.tag, "OK", "STORE completed.")

    def cmd_copy(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        if len(args) != 2:
            raise ProtocolError("COPY needs a set and a mailbox")
        targets = self.targets(text_of(args[0]), uid_mode)
        ctx.uids = tuple(m.uid for _, m in targets)
        dest = self.emu._folders.get(self.resolve_mailbox(args[1]))
        if dest is None:
            self.tagged(ctx.tag, "NO", "[TRYCREATE] Mailbox does not exist.")
            return
        new_uids = []
        for _, msg in targets:
            copy = self.emu._store(dest, msg.raw, set(msg.flags), msg.internaldate)
            copy.fault, copy.substitute = msg.fault, msg.substitute
            new_uids.append(copy.uid)
        code = ""
        if self.emu.uidplus and targets:
            src = ",".join(str(m.uid) for _, m in targets)
            dst = ",".join(str(u) for u in new_uids)
            code = f"[COPYUID {dest.uidvalidity} {src} {dst}] "
        self.tagged(ctx.tag, "OK", f"{code}COPY completed.")

    def cmd_fetch(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        if len(args) != 2:
            raise ProtocolError("FETCH needs a set and items")
        items = parse_fetch_items(args[1])
        if uid_mode and not any(i.attr == "UID" for i in items):
            items.insert(0, FetchItem(attr="UID"))
        targets = self.targets(text_of(args[0]), uid_mode)
        content = any(i.content for i in items)
        ctx.uids = tuple(m.uid for _, m in targets)
        ctx.content = content
        box = self.box()
        vanished: list[int] = []
        for msn, msg in targets:
            plan = self.fault_plan(msg, items, uid_mode) if content else "normal"
            if plan == "omit":
                continue
            if plan in ("no", "bad"):
                self.out = []
                if plan == "no":
                    self.tagged(ctx.tag, "NO", REFUSED_NO_TEXT)
                else:
                    self.tagged(ctx.tag, "BAD", REFUSED_BAD_TEXT)
                return
            if plan == "drop":
                self.emu._logins_to_refuse = self.emu.logins_refused_after_drop
                self.send(BYE_DROPPED)
                self.close_connection()
                return
            if plan == "vanish":
                name = next(i.response_name() for i in items if i.content)
                self.send(f"* {msn} FETCH (UID {msg.uid} {name} NIL)")
                if msg.fault is not Fault.VANISH_LISTED:
                    box.messages.remove(msg)
                vanished.append(msg.uid)
                continue
            source = msg
            if plan == "wrong":
                following = self.view[msn] if msn < len(self.view) else None
                nxt = box.get(following) if following is not None else None
                if nxt is None:
                    continue
                source = nxt
            raw = source.raw
            if source.fault in PLACEHOLDER_FAULTS and source.substitute is not None:
                raw = source.substitute
            self.send(self.fetch_response(msn, source, raw, items))
        for uid in vanished:
            index = self.view.index(uid)
            self.send(f"* {index + 1} EXPUNGE")
            del self.view[index]
        if vanished:
            self.tagged(ctx.tag, "OK", EXPUNGEISSUED_TEXT)
        else:
            self.tagged(ctx.tag, "OK", "FETCH completed.")

    @staticmethod
    def fault_plan(msg: StoredMessage, items: Sequence[FetchItem], uid_mode: bool) -> str:
        fault = msg.fault
        if fault is None:
            return "normal"
        if fault == Fault.EMPTY:
            return "omit"
        if fault == Fault.PLACEHOLDER:
            return "omit" if any(i.peek_body for i in items) else "substitute"
        if fault == Fault.PLACEHOLDER_PEEK:
            return "substitute"
        if fault == Fault.REFUSED_NO:
            return "no"
        if fault == Fault.REFUSED_BAD:
            return "bad"
        if fault == Fault.DROPPED:
            return "drop"
        if fault in (Fault.VANISH, Fault.VANISH_LISTED):
            return "vanish"
        if fault == Fault.SEQUENCE_ONLY:
            return "omit" if uid_mode else "normal"
        if fault == Fault.SEQUENCE_WRONG:
            return "omit" if uid_mode else "wrong"
        return "normal"

    def fetch_response(self, msn: int, msg: StoredMessage, raw: bytes, items: Sequence[FetchItem]) -> bytes:
        parts: list[bytes] = []
        flags_changed = False
        if not self.readonly and any(i.sets_seen for i in items) and "\\Seen" not in msg.flags:
            msg.flags.add("\\Seen")
            flags_changed = True
        parsed: MimePart | None = None
        for item in items:
            attr = item.attr
            if attr == "UID":
                value = str(msg.uid).encode()
            elif attr == "FLAGS":
                value = format_flags(msg.flags).encode()
            elif attr == "INTERNALDATE":
                value = b'"' + format_internaldate(msg.internaldate).encode() + b'"'
            elif attr == "RFC822.SIZE":
                value = str(len(raw)).encode()
            elif attr in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
                parsed = parsed or parse_mime(raw)
                if attr == "ENVELOPE":
                    value = envelope(parsed)
                else:
                    value = bodystructure(parsed, extended=attr == "BODYSTRUCTURE")
            else:
                data = section_data(raw, item)
                if item.partial is not None:
                    start, count = item.partial
                    data = data[start:] if count is None else data[start : start + count]
                value = literal(data)
            parts.append(item.response_name().encode() + b" " + value)
        if flags_changed and not any(i.attr == "FLAGS" for i in items):
            parts.append(b"FLAGS " + format_flags(msg.flags).encode())
        return b"* %d FETCH (" % msn + b" ".join(parts) + b")"
