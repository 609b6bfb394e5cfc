"""Large payloads by reference, through Temporal's own external storage
(``temporalio.converter.ExternalStorage``): a payload past the threshold is
written to the store ``BATON_PAYLOAD_STORE`` names (``baton.blob_store``) and the
history holds a small reference to it, which every client, worker, trace and
replay with the same configuration reads back.

    BATON_PAYLOAD_STORE=file:///var/lib/baton/store   # or s3://a-bucket
    BATON_PAYLOAD_STORE_THRESHOLD=262144              # bytes; smaller payloads stay in the history

A folder store is content-addressed (a payload's SHA-256 names its file): one
written twice is stored once. A bucket gets Temporal's S3 driver
(``temporalio.contrib.aws.s3driver``), content-addressed per run. Payloads are
encrypted before they are stored when ``BATON_CODEC_KEYS`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping, Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.aws.s3driver import S3StorageDriver, S3StorageDriverClient
from temporalio.converter import (ExternalStorage, StorageDriver, StorageDriverClaim, StorageDriverRetrieveContext,
                                  StorageDriverStoreContext)

from baton.blob_store import BlobMissing, BucketBlobs, FolderBlobs, blobs_from_env

DEFAULT_THRESHOLD = 256 * 1024  # the SDK's own default: smaller payloads stay in the history


class FileStorageDriver(StorageDriver):
    """Payloads as files in one folder, named by their SHA-256."""

    def __init__(self, blobs: FolderBlobs) -> None:
        self.blobs = blobs

    def name(self) -> str:
        return "baton-file"

    def type(self) -> str:
        return "baton-file"

    async def store(self, context: StorageDriverStoreContext, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        return list(await asyncio.gather(*(self._write(p.SerializeToString()) for p in payloads)))

    async def retrieve(self, context: StorageDriverRetrieveContext,
                       claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return list(await asyncio.gather(*(self._read(claim) for claim in claims)))

    async def _write(self, data: bytes) -> StorageDriverClaim:
        digest = hashlib.sha256(data).hexdigest()
        await self.blobs.put(f"{digest[:2]}/{digest}", data)
        return StorageDriverClaim(claim_data={"sha256": digest})

    async def _read(self, claim: StorageDriverClaim) -> Payload:
        digest = claim.claim_data["sha256"]
        try:
            data = await self.blobs.get(f"{digest[:2]}/{digest}")
        except BlobMissing:
            raise FileNotFoundError(f"payload {digest} is not in the store {self.blobs.where} (BATON_PAYLOAD_STORE): "
                                    "is this process configured with the same store as the workers?") from None
        payload = Payload()
        payload.ParseFromString(data)
        return payload


class _BucketClient(S3StorageDriverClient):
    """Temporal's S3 driver over Baton's bucket (one client per call: it belongs to the caller's event loop)."""

    def __init__(self, blobs: BucketBlobs) -> None:
        self._blobs = blobs

    async def put_object(self, *, bucket: str, key: str, data: bytes) -> None:
        await self._blobs.put(key, data)

    async def object_exists(self, *, bucket: str, key: str) -> bool:
        return await self._blobs.exists(key)

    async def get_object(self, *, bucket: str, key: str) -> bytes:
        return await self._blobs.get(key)

    def describe(self) -> Mapping[str, str]:
        return {"store": self._blobs.where}


def external_storage(env: Mapping[str, str] = os.environ) -> ExternalStorage | None:
    """The store ``BATON_PAYLOAD_STORE`` names, or None (every payload stays in the history)."""
    blobs = blobs_from_env(env)
    if blobs is None:
        return None
    threshold = int(env.get("BATON_PAYLOAD_STORE_THRESHOLD") or DEFAULT_THRESHOLD)
    driver = (FileStorageDriver(blobs) if isinstance(blobs, FolderBlobs)
              else S3StorageDriver(client=_BucketClient(blobs), bucket=blobs.bucket))
    return ExternalStorage(drivers=[driver], payload_size_threshold=threshold)
