"""Earlier outputs by reference: an agent's answer is kept once in the store
``BATON_PAYLOAD_STORE`` names (``baton.blob_store``), and a later step's activity
input names it (``ContextItem.ref``) instead of repeating its text, which the
activity reads back here. A step that sees many has their list kept here too
(the ``keep_context`` local activity) and names it once. So a run's history holds
each output once (in the result of the call that made it) and grows with its
steps, not their square.

Content-addressed: a text's SHA-256 names it, so one written twice is kept once
and a reference can never name other text. Encrypted with the payload codec
(``BATON_CODEC_KEYS``) like every other payload. Pure of Temporal's worker: the
trace reads it too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from collections import OrderedDict

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from baton.blob_store import BlobMissing, Blobs, blobs_from_env
from baton.contracts import ContextItem

REF_MIN_CHARS = 256  # shorter outputs travel inline: their text costs about what a reference does
RECENT_CHARS = 32_000_000  # texts this worker wrote or read lately, kept in memory: a pipeline's next step reads them
_PREFIX = "baton-texts"


class ContextStore:
    def __init__(self, blobs: Blobs, converter: DataConverter, recent_chars: int = RECENT_CHARS) -> None:
        self._blobs = blobs
        self._converter = converter
        # A reference names its text for ever (content-addressed): a copy kept here is never stale.
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._recent_chars = 0
        self._recent_limit = recent_chars

    def _remember(self, ref: str, text: str) -> None:
        if ref in self._recent:
            self._recent.move_to_end(ref)
        elif len(text) <= self._recent_limit:
            self._recent[ref] = text
            self._recent_chars += len(text)
            while self._recent_chars > self._recent_limit:  # the least recently used go first
                self._recent_chars -= len(self._recent.popitem(last=False)[1])

    async def put(self, text: str) -> str:
        """Keep ``text``; its reference (the first 128 bits of its SHA-256, in hex: short,
        as a step's input names every earlier output it sees)."""
        ref = hashlib.sha256(text.encode()).hexdigest()[:32]
        payload = self._converter.payload_converter.to_payloads([text])[0]
        if self._converter.payload_codec is not None:
            payload = (await self._converter.payload_codec.encode([payload]))[0]
        await self._blobs.put(self._key(ref), payload.SerializeToString())
        self._remember(ref, text)
        return ref

    async def get(self, ref: str, name: str) -> str:
        """The text under ``ref`` (the output of step ``name``, for the error when it is missing)."""
        if ref in self._recent:
            self._remember(ref, self._recent[ref])
            return self._recent[ref]
        try:
            data = await self._blobs.get(self._key(ref))
        except BlobMissing:
            raise ApplicationError(
                f"the output of {name!r} ({ref}) is not in the store {self._blobs.where}: every worker must use "
                "the same BATON_PAYLOAD_STORE", type="ContextMissing") from None
        payload = Payload()
        payload.ParseFromString(data)
        if self._converter.payload_codec is not None:
            payload = (await self._converter.payload_codec.decode([payload]))[0]
        text = self._converter.payload_converter.from_payloads([payload], [str])[0]
        self._remember(ref, text)
        return text

    async def put_items(self, items: list[ContextItem]) -> str:
        """Keep the earlier outputs one step sees as one list (``keep_context``); its reference."""
        return await self.put(json.dumps([item.model_dump(mode="json") for item in items]))

    async def get_items(self, ref: str) -> list[ContextItem]:
        return [ContextItem.model_validate(item) for item in json.loads(await self.get(ref, "earlier outputs"))]

    @staticmethod
    def _key(ref: str) -> str:
        if len(ref) != 32 or any(c not in "0123456789abcdef" for c in ref):
            raise ApplicationError(f"{ref!r} is not a context reference", type="BadContextRef", non_retryable=True)
        return f"{_PREFIX}/{ref[:2]}/{ref}"


def context_store(converter: DataConverter, env: Mapping[str, str] = os.environ) -> ContextStore | None:
    """The store ``BATON_PAYLOAD_STORE`` names, with ``converter``'s codec; None without one."""
    blobs = blobs_from_env(env)
    return ContextStore(blobs, converter) if blobs is not None else None


async def context_names(store: ContextStore | None, ref: str) -> list[str]:
    """The steps whose outputs a list kept by ``keep_context`` holds (for the trace); empty
    when this process has no store or the store no longer has the list."""
    if store is None:
        return []
    try:
        return [item.name for item in await store.get_items(ref)]
    except ApplicationError:
        return []
