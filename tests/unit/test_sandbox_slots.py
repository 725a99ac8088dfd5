"""SandboxSlots: groups take sandbox slots in groups.yaml order, and no free slot idles."""

from __future__ import annotations

import threading

from polling import wait_until
from repograder.stages import SandboxSlots


def test_the_next_group_takes_the_second_slot_while_the_first_still_holds_its_own() -> None:
    # group b checks its turn while a is still first in line; a is then admitted. b must be
    # woken at once (a free slot), not when a finishes its minutes-long build.
    slots = SandboxSlots(2, ["a", "b"], threading.Event())
    b_inside = threading.Event()

    def take_b() -> None:
        with slots.slot("b"):
            b_inside.set()

    waiter = threading.Thread(target=take_b, daemon=True)
    waiter.start()
    assert wait_until(lambda: len(slots._cond._waiters) == 1, 5.0, interval=0.01)  # type: ignore[attr-defined]
    with slots.slot("a"):
        admitted = b_inside.wait(timeout=5.0)
    waiter.join(timeout=5.0)
    assert admitted, "b waited for a's slot to be released although a second slot was free"


def test_a_later_group_never_overtakes_an_earlier_one() -> None:
    slots = SandboxSlots(1, ["a", "b"], threading.Event())
    entered: list[str] = []

    def take(name: str) -> None:
        with slots.slot(name):
            entered.append(name)

    later = threading.Thread(target=take, args=("b",), daemon=True)
    later.start()
    assert wait_until(lambda: len(slots._cond._waiters) == 1, 5.0, interval=0.01)  # type: ignore[attr-defined]
    assert entered == []
    take("a")
    later.join(timeout=5.0)
    assert entered == ["a", "b"]
