"""A seeded random walk through a mailbox's life: the server changes, the user acts, offlineimap syncs.

Each step is one thing that happens in real life (mail arrives, the server loses or repairs a message, renumbers
a folder, the user changes flags or deletes mail, syncs, clears, purges, time passes). After every step the
walk checks the invariants of issue "a phantom's whole life": nothing the server can deliver is missing from
the Maildir, nothing ever synced disappears unless the model deleted it, the server saw no change the model did
not ask for, and store, quarantine and report agree. A failure names the seed and the steps that led to it.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from offlineimap_phantomfix import cli, clock
from offlineimap_phantomfix.report import next_step
from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing import EmulatorServer, Fault
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, read_maildir, run_offlineimap
from offlineimap_phantomfix.testing.messages import SUBSTITUTE_SUBJECT, make_message, make_multipart_message
from offlineimap_phantomfix.verdicts import PhantomRecord

from .phantomsafe_helpers import IMAP_TO_MAILDIR, maildir_flags, normalized, phantomsafe_setup

FOLDERS = ("INBOX", "Archive")
RETRY_AFTER = timedelta(hours=2)
# Faults whose message the server (or the ladder) can still deliver.
DELIVERABLE = (None, Fault.SEQUENCE_ONLY)
CHANGING = ("STORE", "EXPUNGE", "COPY", "MOVE", "APPEND", "CREATE", "DELETE")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAILDIR_TO_IMAP = {letter: flag for flag, letter in IMAP_TO_MAILDIR.items() if letter != "T"}


class Violation(AssertionError):
    """An invariant does not hold."""


@dataclass
class Walk:
    """One example: the emulator, the offlineimap setup and what the model knows."""

    server: EmulatorServer
    workdir: Path
    seed: int
    rng: random.Random = field(init=False)
    setup: OfflineimapSetup = field(init=False)
    action: str = "quarantine"
    counter: int = 0
    shift: float = 0.0
    history: list[str] = field(default_factory=list)
    ever_local: set[bytes] = field(default_factory=set)  # normalised raw of every message once in the Maildir
    deleted: set[bytes] = field(default_factory=set)  # messages the model deleted (server expunge, local delete)
    frozen: set[str] = field(default_factory=set)  # renumbered after a sync: offlineimap must leave them alone
    pending_flags: dict[tuple[str, int], set[str]] = field(default_factory=dict)  # local changes -> IMAP flags
    pending_deletes: set[tuple[str, int]] = field(default_factory=set)
    remote_changed: set[tuple[str, int]] = field(default_factory=set)  # server flag changes since the last sync
    ever_faulty: set[bytes] = field(default_factory=set)  # messages that were a phantom at some time
    released_items: set[str] = field(default_factory=set)  # quarantine items whose record `clear` removed
    log_seen: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.action = self.rng.choice(("quarantine", "quarantine", "skip"))
        for name in FOLDERS:
            if name not in self.server.folders():
                self.server.add_folder(name)
        for _ in range(self.rng.randint(2, 4)):
            self._add_one()
        self.setup = self._write_config(1)

    LOOKALIKE_RATE = 0.1

    # --- plumbing ---------------------------------------------------------------------------------------------
    def _write_config(self, maxconnections: int) -> OfflineimapSetup:
        options = {"phantom_action": self.action, "phantom_retry_after": f"{int(RETRY_AFTER.total_seconds())}s"}
        return phantomsafe_setup(self.workdir, self.server, maxconnections=maxconnections, remote_options=options)

    @property
    def env(self) -> dict[str, str]:
        return {clock.SHIFT_ENV: str(self.shift)}

    def fail(self, text: str) -> None:
        steps = "\n  ".join(self.history)
        raise Violation(f"seed {self.seed} (replay: PHANTOMFIX_LIFE_SEED={self.seed}), action {self.action}: "
                        f"{text}\nsteps:\n  {steps}")

    def helper(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["-c", str(self.setup.config), *argv])
        return status, out.getvalue(), err.getvalue()

    def records(self) -> list[PhantomRecord]:
        directory = self.setup.metadata / "phantomfix"
        if not (directory / "phantoms.sqlite3").exists():
            return []
        with PhantomStore(directory) as store:
            return store.records()

    def skipped(self, folder: str) -> frozenset[int]:
        directory = self.setup.metadata / "phantomfix"
        if not (directory / "phantoms.sqlite3").exists():
            return frozenset()
        with PhantomStore(directory) as store:
            return store.skipped_uids("Test", "TestRemote", folder, self.server.uidvalidity(folder),
                                      retry_after=RETRY_AFTER, now=clock.now() + timedelta(seconds=self.shift))

    def server_messages(self) -> list[tuple[str, int, bytes, set[str], Fault | None]]:
        return [(f, m.uid, normalized(m.raw), set(m.flags), m.fault)
                for f in FOLDERS for m in self.server.messages(f)]

    def local(self) -> dict[str, list]:
        return {name: msgs for name, msgs in read_maildir(self.setup.maildir).items() if name in FOLDERS}

    # --- steps ------------------------------------------------------------------------------------------------
    def _add_one(self) -> None:
        self.counter += 1
        n = self.counter
        kind = self.rng.random()
        if kind < self.LOOKALIKE_RATE:  # a real mail that discusses the server's notice
            raw = make_message(n, subject=SUBSTITUTE_SUBJECT, sender=f"Helpdesk user <user{n}@outlook.com>")
        elif kind < 0.25:
            raw = make_multipart_message(n)
        else:
            raw = make_message(n)
        flags = [f for f in ("\\Seen", "\\Flagged") if self.rng.random() < 0.3]
        fault = self.rng.choice(list(Fault)) if self.rng.random() < 0.3 else None  # arrives broken
        self.server.append(self.rng.choice(FOLDERS), raw, flags=flags, fault=fault)
        if fault is not None:
            self.ever_faulty.add(normalized(raw))
        if fault is Fault.VANISH:
            self.deleted.add(normalized(raw))

    def step_add(self) -> str:
        count = self.rng.randint(1, 2)
        for _ in range(count):
            self._add_one()
        return f"add {count}"

    def _pick_server(self, *, faulty: bool | None = None) -> tuple[str, int, Fault | None] | None:
        choices = [(f, uid, fault) for f, uid, _, _, fault in self.server_messages()
                   if faulty is None or (fault is not None) == faulty]
        return self.rng.choice(choices) if choices else None

    def step_expunge(self) -> str:
        picked = self._pick_server()
        if picked is None:
            return "expunge: nothing"
        folder, uid, _ = picked
        raw = next(normalized(m.raw) for m in self.server.messages(folder) if m.uid == uid)
        self.server.expunge_uid(folder, uid)
        self.deleted.add(raw)
        return f"server expunges {folder} UID {uid}"

    def step_phantom(self) -> str:
        here = {normalized(m.raw) for msgs in self.local().values() for m in msgs}
        fresh = [(f, uid, fault) for f, uid, raw, _, fault in self.server_messages() if raw not in here]
        picked = self.rng.choice(fresh) if fresh and self.rng.random() < 0.7 else self._pick_server()
        if picked is None:
            return "phantom: nothing"
        folder, uid, _ = picked
        fault = self.rng.choice(list(Fault))
        self.server.set_fault(folder, uid, fault)
        self.ever_faulty.add(next(normalized(m.raw) for m in self.server.messages(folder) if m.uid == uid))
        if fault is Fault.VANISH:  # the server deletes it at the next content fetch: a server-side deletion
            self.deleted.add(next(normalized(m.raw) for m in self.server.messages(folder) if m.uid == uid))
        return f"{folder} UID {uid} turns {fault.value}"

    def step_heal(self) -> str:
        picked = self._pick_server(faulty=True)
        if picked is None:
            return "heal: nothing"
        folder, uid, fault = picked
        if fault is Fault.VANISH:
            return "heal: the vanishing one stays"
        self.server.set_fault(folder, uid, None)
        return f"{folder} UID {uid} healed"

    def step_renumber(self) -> str:
        folder = self.rng.choice(FOLDERS)
        # offlineimap keeps the old UIDVALIDITY only for a folder it holds messages of (locally or in its status)
        holds = bool(self.local().get(folder)) or any(f == folder for f, _ in self.pending_deletes)
        old = self.server.messages(folder)
        for m in old:
            self.server.expunge_uid(folder, m.uid)
        self.server.set_uidvalidity(folder, self.server.uidvalidity(folder) + 1)
        self.server.set_next_uid(folder, max([m.uid for m in old], default=0) + 100)
        for m in old:
            uid = self.server.append(folder, m.raw, flags=m.flags, internaldate=m.internaldate, fault=m.fault)
            if m.substitute is not None:
                self.server.set_substitute(folder, uid, m.substitute)
        if holds:
            self.frozen.add(folder)
            self.pending_flags = {k: v for k, v in self.pending_flags.items() if k[0] != folder}
            self.pending_deletes = {k for k in self.pending_deletes if k[0] != folder}
        return f"server renumbers {folder}"

    def _random_flags(self) -> set[str]:
        return {f for f in ("\\Seen", "\\Flagged", "\\Answered") if self.rng.random() < 0.5}

    def step_remote_flags(self) -> str:
        choices = [(f, uid) for f, uid, *_ in self.server_messages() if (f, uid) not in self.pending_flags]
        if not choices:
            return "remote flags: nothing"
        folder, uid = self.rng.choice(choices)
        flags = self._random_flags()
        self.server.set_flags(folder, uid, flags)
        self.remote_changed.add((folder, uid))
        return f"server sets {folder} UID {uid} flags {sorted(flags)}"

    def _pick_local(self) -> tuple[str, object] | None:
        server_uids = {(f, uid) for f, uid, *_ in self.server_messages()}
        choices = [(name, m) for name, msgs in self.local().items() if name not in self.frozen for m in msgs
                   if m.uid is not None and (name, m.uid) not in self.pending_deletes]
        choices = [(name, m) for name, m in choices  # type: ignore[attr-defined]
                   if (name, m.uid) in server_uids and (name, m.uid) not in self.remote_changed]
        return self.rng.choice(choices) if choices else None

    def step_local_flags(self) -> str:
        picked = self._pick_local()
        if picked is None:
            return "local flags: nothing"
        folder, message = picked
        letters = "".join(sorted(self.rng.sample("FRS", self.rng.randint(0, 3))))
        path: Path = message.path  # type: ignore[attr-defined]
        base = path.name.partition(":2,")[0]
        path.rename(path.parent.parent / "cur" / f"{base}:2,{letters}")
        self.pending_flags[(folder, message.uid)] = {MAILDIR_TO_IMAP[c] for c in letters}  # type: ignore[attr-defined]
        return f"local sets {folder} UID {message.uid} flags {letters!r}"  # type: ignore[attr-defined]

    def step_local_delete(self) -> str:
        picked = self._pick_local()
        if picked is None:
            return "local delete: nothing"
        folder, message = picked
        message.path.unlink()  # type: ignore[attr-defined]
        self.deleted.add(normalized(message.raw))  # type: ignore[attr-defined]
        self.pending_deletes.add((folder, message.uid))  # type: ignore[attr-defined]
        self.pending_flags.pop((folder, message.uid), None)  # type: ignore[attr-defined]
        return f"local deletes {folder} UID {message.uid}"  # type: ignore[attr-defined]

    def step_time(self) -> str:
        self.shift += RETRY_AFTER.total_seconds() + 60
        return f"time moves past phantom_retry_after (shift {self.shift:.0f}s)"

    def step_clear(self) -> str:
        records = self.records()
        choice = self.rng.random()
        argv = ["clear", "--all"]
        if records and choice < 0.7:
            record = self.rng.choice(records)
            argv = ["clear", "--account", "Test", "--folder", record.key.folder]
            if choice < 0.5:
                argv += ["--uid", str(record.key.uid)]
        if self.rng.random() < 0.25:
            argv.append("--dry-run")
        before = {r.key: r for r in records}
        status, _out, err = self.helper(*argv)
        if status != 0:
            self.fail(f"{' '.join(argv)} exited {status}: {err}")
        after = {r.key for r in self.records()}
        for key, record in before.items():
            if key not in after and record.quarantine:
                self.released_items.add(record.quarantine)
        return " ".join(argv)

    def step_purge(self) -> str:
        records = [r for r in self.records() if r.key.folder in FOLDERS and not r.purged]
        skipped = [r for r in records if r.skipped]  # what the report may advise to purge
        choice = self.rng.random()
        if (skipped and choice < 0.6) or (records and choice < 0.8):
            record = self.rng.choice(skipped if skipped and choice < 0.6 else records)
            folder, uid = record.key.folder, record.key.uid
        else:
            picked = self._pick_server()
            if picked is None:
                return "purge: nothing"
            folder, uid, _ = picked
        yes = self.rng.random() < 0.6
        before = {(f, u): (raw, fault) for f, u, raw, _, fault in self.server_messages()}
        here = {normalized(m.raw) for msgs in self.local().values() for m in msgs}
        target = before.get((folder, uid))
        # Only a current phantom without a synced copy may be deleted (offlineimap would delete that copy too).
        may_delete = yes and target is not None and target[1] not in DELIVERABLE and target[0] not in here
        argv = ["purge", "--account", "Test", "--folder", folder, "--uid", str(uid), *(["--yes"] if yes else [])]
        status, out, err = self.helper(*argv)
        text = f"{' '.join(argv)} -> {status}"
        if len((out + err).strip().splitlines()) == 0 or "Traceback" in out + err:
            self.fail(f"{text}: no clear output: {out!r} {err!r}")
        after = {(f, u) for f, u, *_ in self.server_messages()}
        gone = set(before) - after
        if not yes and gone - self._vanishing(before):
            self.fail(f"{text}: a dry run removed {sorted(gone)}")
        for key in gone:
            raw, fault = before[key]
            if fault is Fault.VANISH:
                self.deleted.add(raw)
                continue
            if fault in DELIVERABLE:
                self.fail(f"{text}: purge removed a deliverable message {key}")
            if raw in here:
                self.fail(f"{text}: purge removed {key} although the Maildir holds its synced copy")
        if yes and status == 0 and target is not None and (folder, uid) not in gone:
            self.fail(f"{text}: purge said it was done, yet {folder} UID {uid} is still on the server")
        if status != 0 and (folder, uid) in gone - self._vanishing(before):
            self.fail(f"{text}: purge failed, yet {folder} UID {uid} is gone")
        self._check_log(text, stores={(folder, uid)} if may_delete else set(),
                        expunge={folder} if may_delete else set())
        return text

    @staticmethod
    def _vanishing(before: dict[tuple[str, int], tuple[bytes, Fault | None]]) -> set[tuple[str, int]]:
        return {key for key, (_, fault) in before.items() if fault is Fault.VANISH}

    def step_sync(self) -> str:
        maxconnections = self.rng.choice((1, 3))
        self.setup = self._write_config(maxconnections)
        before = {(f, uid): flags for f, uid, _, flags, _ in self.server_messages()}
        result = run_offlineimap(self.setup, env=self.env)
        text = f"sync (maxconnections {maxconnections}) -> {result.returncode}"
        self.history.append(text)
        expected_status = 1 if self.frozen else 0
        if result.returncode != expected_status:
            self.fail(f"sync exited {result.returncode}, expected {expected_status}:\n{result.output}")
        if "Traceback" in result.output and not self.frozen:
            self.fail(f"traceback in the sync output:\n{result.output}")
        stores = set(self.pending_flags) | self.pending_deletes
        self._check_log(text, stores=stores, expunge={f for f, _ in self.pending_deletes})
        self._check_server_flags(before)
        self.pending_flags.clear()
        self.pending_deletes.clear()
        self.remote_changed.clear()
        self._check_delivered()
        self.history.pop()
        return text

    # --- invariants -------------------------------------------------------------------------------------------
    def _check_log(self, step: str, *, stores: set[tuple[str, int]], expunge: set[str]) -> None:
        entries = self.server.commands()[self.log_seen:]
        self.log_seen += len(entries)
        for entry in entries:
            name = entry.command.split()[-1]
            if name not in CHANGING:
                continue
            if name == "STORE" and entry.folder in FOLDERS and all((entry.folder, u) in stores for u in entry.uids):
                continue
            if name == "EXPUNGE" and entry.folder in expunge:
                continue
            self.fail(f"{step}: the server saw a change nobody asked for: {entry.line!r} in {entry.folder}")

    def _check_server_flags(self, before: dict[tuple[str, int], set[str]]) -> None:
        for folder, uid, _, flags, _ in self.server_messages():
            wanted = self.pending_flags.get((folder, uid), before.get((folder, uid), flags))
            if flags != wanted:
                self.fail(f"server flags of {folder} UID {uid} are {sorted(flags)}, expected {sorted(wanted)}")

    def _check_delivered(self) -> None:
        local = self.local()
        for folder in FOLDERS:
            if folder in self.frozen:
                continue
            skipped = self.skipped(folder)
            here = Counter(normalized(m.raw) for m in local.get(folder, []))
            flags_here = {normalized(m.raw): m.flags for m in local.get(folder, [])}
            for m in self.server.messages(folder):
                raw = normalized(m.raw)
                expected = m.fault in DELIVERABLE and (m.uid not in skipped or raw not in self.ever_faulty)
                if expected and here[raw] != 1:
                    self.fail(f"{folder} UID {m.uid} (deliverable) is {here[raw]} times in the Maildir")
                if raw in flags_here and flags_here[raw] != maildir_flags(m.flags):
                    self.fail(f"{folder} UID {m.uid}: local flags {flags_here[raw]!r}, server {sorted(m.flags)}")

    def check(self) -> None:
        """The invariants that hold after any step."""
        local = self.local()
        counts = Counter(normalized(m.raw) for msgs in local.values() for m in msgs)
        duplicates = [raw[:60] for raw, n in counts.items() if n > 1]
        if duplicates:
            self.fail(f"messages twice in the Maildir: {duplicates}")
        missing = self.ever_local - set(counts) - self.deleted
        if missing:
            self.fail(f"{len(missing)} message(s) disappeared from the Maildir: {[m[:80] for m in missing]}")
        self.ever_local |= set(counts)
        self._check_records(local)

    def _check_records(self, local: dict[str, list]) -> None:
        records = self.records()
        items_dir = self.setup.metadata / "phantomfix" / "quarantine"
        items = {str(p) for p in items_dir.rglob("*") if p.is_file() and p.parent.name in ("new", "cur")}
        recorded = {r.quarantine for r in records if r.quarantine}
        for path in recorded - items:
            self.fail(f"a record names a quarantine item that is not there: {path}")
        for path in items - recorded - self.released_items:
            self.fail(f"a quarantine item without a record: {path}")
        status, out, err = self.helper("report", "--json")
        if status != 0:
            self.fail(f"report --json exited {status}: {err}")
        try:
            shown = json.loads(out)["messages"]
        except (ValueError, KeyError) as error:
            self.fail(f"report --json does not parse: {error}: {out[:200]!r}")
        if len(shown) != len(records):
            self.fail(f"report --json shows {len(shown)} messages, the store has {len(records)}")
        status, text, err = self.helper("report")
        if status != 0:
            self.fail(f"report exited {status}: {err}")
        if CONTROL.search(text):
            self.fail(f"a raw control character in the report: {text!r}")
        for record in records:
            folder = record.key.folder
            if folder not in FOLDERS or folder in self.frozen:
                continue
            if record.key.uidvalidity != self.server.uidvalidity(folder):
                continue
            here = any(m.uid == record.key.uid for m in local.get(folder, []))
            if here and record.skipped:
                self.fail(f"{folder} UID {record.key.uid} is in the Maildir but its record says skipped "
                          f"({record.verdict.value}, {record.attempts} attempts)")
            if here and "purge" in next_step(record):
                self.fail(f"{folder} UID {record.key.uid} is in the Maildir but the report says: {next_step(record)}")

    # --- the walk -------------------------------------------------------------------------------------------
    STEPS = (
        ("step_add", 3), ("step_expunge", 1), ("step_phantom", 3), ("step_heal", 2), ("step_renumber", 0.4),
        ("step_remote_flags", 1), ("step_local_flags", 1), ("step_local_delete", 1), ("step_sync", 5),
        ("step_clear", 1), ("step_purge", 2), ("step_time", 2),
    )

    def run(self, max_steps: int) -> int:
        """Up to ``max_steps`` random steps, the first and the last a sync; returns the number of syncs."""
        names = [name for name, _ in self.STEPS]
        weights = [weight for _, weight in self.STEPS]
        plan = ["step_sync"]
        plan += self.rng.choices(names, weights, k=self.rng.randint(max(1, max_steps // 2), max_steps - 2))
        plan.append("step_sync")
        for name in plan:
            self.history.append(getattr(self, name)())
            if name != "step_sync" and name != "step_purge":
                self._check_log(self.history[-1], stores=set(), expunge=set())
            self.check()
        return plan.count("step_sync")
