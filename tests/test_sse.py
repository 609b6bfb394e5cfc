"""The event-stream reader the agent activity streams answers with (activities/sse.py)."""

from __future__ import annotations

from baton.activities.sse import Event, events


async def read(*lines: str) -> list[Event]:
    async def source():
        for line in lines:
            yield line
    return [event async for event in events(source())]


async def test_each_blank_line_ends_an_event_and_its_data_lines_are_joined():
    assert await read('data: {"a": 1}', "", "data: first", "data:second", "", "data: [DONE]", "") == [
        Event('{"a": 1}'), Event("first\nsecond"), Event("[DONE]")]


async def test_comments_ids_and_retries_are_skipped_and_an_event_keeps_its_name():
    assert await read(": keep-alive", "", "id: 7", "retry: 100", "event: error", 'data: {"error": "x"}', "") == [
        Event('{"error": "x"}', "error")]


async def test_the_last_event_counts_when_the_stream_stops_without_its_blank_line():
    assert await read("data: one", "", "data: cut") == [Event("one"), Event("cut")]


async def test_a_name_without_data_does_not_carry_over_to_the_next_event():
    assert await read("event: ping", "", "data: answer", "") == [Event("answer")]
