"""Ready-made mailboxes on an :class:`EmulatorServer`: healthy ones, one phantom per fault, mixed ones."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .messages import make_message, make_multipart_message
from .server import EmulatorServer, Fault

__all__ = ["Scenario", "build_fault_scenario", "build_mixed_mailbox", "healthy_mailbox"]


@dataclass
class Scenario:
    """What :func:`build_fault_scenario` put on the server.

    ``healthy_uids`` are the healthy messages in ``folder``; ``second_uids`` those in ``second_folder``.
    """

    folder: str
    phantom_uid: int | None
    healthy_uids: list[int]
    fault: Fault | None
    second_folder: str | None = None
    second_uids: list[int] | None = None

    @property
    def all_uids(self) -> list[int]:
        """Every UID in ``folder`` (healthy and phantom), ascending."""
        uids = list(self.healthy_uids)
        if self.phantom_uid is not None:
            uids.append(self.phantom_uid)
        return sorted(uids)


def _message(server_counter: int) -> bytes:
    # Every 7th message is multipart, so BODYSTRUCTURE and part fetches see something non-trivial.
    if server_counter % 7 == 0:
        return make_multipart_message(server_counter)
    return make_message(server_counter)


def _ensure_folder(server: EmulatorServer, name: str) -> None:
    if name not in server.folders():
        server.add_folder(name)


def healthy_mailbox(
    server: EmulatorServer, folders: dict[str, int], *, start: int = 1
) -> dict[str, list[int]]:
    """Fill each folder with that many healthy messages (created if missing); returns the UIDs per folder.

    Message numbers run on from ``start`` across folders, so every message is unique. A few messages carry
    flags (\\Seen, \\Flagged, \\Answered) so flag sync is exercised.
    """
    result: dict[str, list[int]] = {}
    n = start
    for name, count in folders.items():
        _ensure_folder(server, name)
        uids = []
        for _ in range(count):
            flags = []
            if n % 3 == 0:
                flags.append("\\Seen")
            if n % 5 == 0:
                flags.append("\\Flagged")
            if n % 11 == 0:
                flags.append("\\Answered")
            uids.append(server.append(name, _message(n), flags=flags))
            n += 1
        result[name] = uids
    return result


def build_fault_scenario(
    server: EmulatorServer,
    fault: Fault | None,
    *,
    healthy: int = 20,
    folder: str = "INBOX",
    second_folder: str | None = "Archive",
) -> Scenario:
    """``healthy`` good messages spread over ``folder`` and ``second_folder`` and, when ``fault`` is given,
    one phantom with that fault in the middle of ``folder`` (healthy messages before and after it)."""
    _ensure_folder(server, folder)
    in_first = healthy if second_folder is None else healthy - healthy // 2
    before = in_first // 2
    n = 1000
    first_uids: list[int] = []
    phantom_uid: int | None = None
    for i in range(in_first + (1 if fault is not None else 0)):
        n += 1
        if fault is not None and i == before:
            phantom_uid = server.append(
                folder, make_message(n, subject=f"Phantom message {n}"), fault=fault
            )
            continue
        first_uids.append(server.append(folder, _message(n), flags=["\\Seen"] if n % 4 == 0 else []))
    second_uids: list[int] | None = None
    if second_folder is not None:
        _ensure_folder(server, second_folder)
        second_uids = []
        for _ in range(healthy - in_first):
            n += 1
            second_uids.append(server.append(second_folder, _message(n)))
    return Scenario(
        folder=folder,
        phantom_uid=phantom_uid,
        healthy_uids=first_uids,
        fault=fault,
        second_folder=second_folder,
        second_uids=second_uids,
    )


_MIXED_KINDS = (
    Fault.EMPTY,
    Fault.PLACEHOLDER,
    Fault.PLACEHOLDER_PEEK,
    Fault.REFUSED_NO,
    Fault.REFUSED_BAD,
    Fault.DROPPED,
    Fault.VANISH,
    Fault.SEQUENCE_ONLY,
    Fault.SEQUENCE_WRONG,
)


def build_mixed_mailbox(
    server: EmulatorServer,
    *,
    total: int,
    phantoms: int,
    folder: str = "INBOX",
    seed: int = 0,
    kinds: tuple[Fault, ...] = _MIXED_KINDS,
) -> dict[int, Fault]:
    """``total`` messages in ``folder``, ``phantoms`` of them faulty (kinds cycled through ``kinds`` in a
    seeded shuffle), placed at seeded random positions. Deterministic for a given seed. Returns UID -> fault.
    """
    if not 0 <= phantoms <= total:
        raise ValueError("phantoms must be between 0 and total")
    _ensure_folder(server, folder)
    rng = random.Random(seed)
    positions = set(rng.sample(range(total), phantoms))
    order = list(kinds)
    rng.shuffle(order)
    result: dict[int, Fault] = {}
    k = 0
    for i in range(total):
        n = 5000 + i
        if i in positions:
            fault = order[k % len(order)]
            k += 1
            uid = server.append(folder, make_message(n, subject=f"Phantom message {n}"), fault=fault)
            result[uid] = fault
        else:
            server.append(folder, _message(n))
    return result
