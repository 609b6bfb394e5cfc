"""Large payloads by reference, through Temporal's own external storage
(``temporalio.converter.ExternalStorage``): a payload past the threshold is
written to a store and the history holds a small reference to it, which every
client, worker, trace and replay with the same configuration reads back.

    BATON_PAYLOAD_STORE=file:///var/lib/baton/payloads   # a folder every worker and client can read
    BATON_PAYLOAD_STORE_THRESHOLD=262144                 # bytes; smaller payloads stay in the history

The filesystem store is content-addressed (a payload's SHA-256 names its file):
one written twice is stored once. Payloads are encrypted before they are stored
when ``BATON_CODEC_KEYS`` is set. Pure of Temporal's worker: clients import it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from temporalio.api.common.v1 import Payload
from temporalio.converter import (ExternalStorage, StorageDriver, StorageDriverClaim, StorageDriverRetrieveContext,
                                  StorageDriverStoreContext)

DEFAULT_THRESHOLD = 256 * 1024  # the SDK's own default: smaller payloads stay in the history


class FileStorageDriver(StorageDriver):
    """Payloads as files in one folder, named by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def name(self) -> str:
        return "baton-file"

    def type(self) -> str:
        return "baton-file"

    async def store(self, context: StorageDriverStoreContext, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        return await asyncio.to_thread(lambda: [self._write(p.SerializeToString()) for p in payloads])

    async def retrieve(self, context: StorageDriverRetrieveContext,
                       claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return await asyncio.to_thread(lambda: [self._read(claim) for claim in claims])

    def _write(self, data: bytes) -> StorageDriverClaim:
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / digest[:2] / digest
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole, then renamed: a reader never sees half a payload.
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
                part.write(data)
            os.replace(part.name, path)
        return StorageDriverClaim(claim_data={"sha256": digest})

    def _read(self, claim: StorageDriverClaim) -> Payload:
        digest = claim.claim_data["sha256"]
        path = self.root / digest[:2] / digest
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"payload {digest} is not in the store {self.root} (BATON_PAYLOAD_STORE): is this "
                                    "process configured with the same store as the workers?") from None
        payload = Payload()
        payload.ParseFromString(data)
        return payload


def external_storage(env: Mapping[str, str] = os.environ) -> ExternalStorage | None:
    """The store ``BATON_PAYLOAD_STORE`` names, or None (every payload stays in the history)."""
    where = env.get("BATON_PAYLOAD_STORE", "").strip()
    if not where:
        return None
    url = urlparse(where)
    if url.scheme != "file" or not url.path:
        raise ValueError(f"BATON_PAYLOAD_STORE={where!r}: give file:///a/folder")
    threshold = int(env.get("BATON_PAYLOAD_STORE_THRESHOLD") or DEFAULT_THRESHOLD)
    return ExternalStorage(drivers=[FileStorageDriver(Path(url.path))], payload_size_threshold=threshold)
