"""The line in front of Rasa's turns: how many run at once, in what order, and what the
customers waiting are told."""

from __future__ import annotations

import asyncio

import pytest

from rasa_addons.admission import Admission, AdmissionSettings, ServerBusy


def run(coro):
    return asyncio.run(coro)


def test_no_more_turns_run_at_once_than_the_capacity_and_the_rest_go_in_arrival_order():
    async def scenario():
        admission = Admission(AdmissionSettings(capacity=2, tell_after_seconds=0, initial_turn_seconds=1))
        running, most, started, told = 0, 0, [], {}

        async def customer(n: int) -> None:
            nonlocal running, most

            async def tell(position: int, seconds: int) -> None:
                told[n] = (position, seconds)

            async with admission.turn(tell):
                started.append(n)
                running += 1
                most = max(most, running)
                await asyncio.sleep(0.01)
                running -= 1

        tasks = []
        for n in range(6):
            tasks.append(asyncio.create_task(customer(n)))
            await asyncio.sleep(0)  # they arrive one after another
        await asyncio.gather(*tasks)
        return admission, most, started, told

    admission, most, started, told = run(scenario())
    assert most == 2
    assert started == [0, 1, 2, 3, 4, 5]
    # The first two went straight in; the others were told their place and a wait.
    assert sorted(told) == [2, 3, 4, 5]
    assert [told[n][0] for n in (2, 3, 4, 5)] == [1, 2, 3, 4]
    assert told[5][1] >= told[2][1] >= 1
    assert admission.running == 0 and admission.waiting == 0
    assert admission.queued == 4


def test_a_short_wait_is_not_announced():
    async def scenario():
        admission = Admission(AdmissionSettings(capacity=1, tell_after_seconds=5, initial_turn_seconds=0.1))
        told = []

        async def tell(position: int, seconds: int) -> None:
            told.append(position)

        async def customer() -> None:
            async with admission.turn(tell):
                await asyncio.sleep(0.01)

        await asyncio.gather(customer(), customer(), customer())
        return told

    assert run(scenario()) == []


def test_a_customer_who_leaves_the_line_gives_their_place_to_the_next():
    async def scenario():
        admission = Admission(AdmissionSettings(capacity=1))
        gate = asyncio.Event()
        done = []

        async def first() -> None:
            async with admission.turn():
                await gate.wait()
                done.append("first")

        async def later(name: str) -> None:
            async with admission.turn():
                done.append(name)

        a = asyncio.create_task(first())
        await asyncio.sleep(0)
        b = asyncio.create_task(later("gave up"))
        c = asyncio.create_task(later("third"))
        await asyncio.sleep(0)
        assert admission.waiting == 2
        b.cancel()
        gate.set()
        await asyncio.gather(a, c)
        with pytest.raises(asyncio.CancelledError):
            await b
        return admission, done

    admission, done = run(scenario())
    assert done == ["first", "third"]
    assert admission.running == 0 and admission.waiting == 0


def test_a_failing_turn_frees_its_place():
    async def scenario():
        admission = Admission(AdmissionSettings(capacity=1))
        with pytest.raises(RuntimeError):
            async with admission.turn():
                raise RuntimeError("boom")
        async with admission.turn():
            pass
        return admission

    assert run(scenario()).running == 0


def test_a_full_line_refuses_instead_of_growing_without_end():
    async def scenario():
        admission = Admission(AdmissionSettings(capacity=1, max_waiting=1))
        gate = asyncio.Event()

        async def customer() -> None:
            async with admission.turn():
                await gate.wait()

        first, second = asyncio.create_task(customer()), asyncio.create_task(customer())
        await asyncio.sleep(0)
        with pytest.raises(ServerBusy):
            async with admission.turn():
                pass
        gate.set()
        await asyncio.gather(first, second)
        return admission

    assert run(scenario()).refused == 1


@pytest.mark.parametrize(
    "values",
    [{"capacity": 0}, {"max_waiting": -1}, {"tell_after_seconds": -1}, {"capacity": 2, "speed": 3}],
)
def test_bad_settings_are_refused(values):
    with pytest.raises(ValueError):
        AdmissionSettings.from_mapping(values)
