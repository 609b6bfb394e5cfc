"""Where Baton keeps bytes outside the workflow history, named by
``BATON_PAYLOAD_STORE``: a folder, or a bucket of any S3-compatible object store.
Temporal's external storage keeps large payloads there (``baton.payload_store``);
the agent activities keep the outputs later steps see by reference
(``baton.context_store``).

    BATON_PAYLOAD_STORE=file:///var/lib/baton/store   # one machine, or a shared volume
    BATON_PAYLOAD_STORE=s3://baton-store              # workers on several machines

An ``s3://`` store takes its endpoint, region and credentials from the standard
AWS variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ...)
or ``~/.aws``; the bucket must exist. Pure of Temporal's worker: clients import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class BlobMissing(LookupError):
    """Nothing is stored under the key: the process reads another store than the one written."""


class Blobs(ABC):
    """Bytes under keys (``a/b/c``), each written whole or not at all. Keys name their
    content (a hash of it): what is put under a key already there is the same."""

    where: str  # the store as BATON_PAYLOAD_STORE names it, for messages

    @abstractmethod
    async def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """Raises ``BlobMissing``."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...


class FolderBlobs(Blobs):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = root.as_uri() if root.is_absolute() else str(root)

    async def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        if not path.exists():  # the same content: a file's write saved
            await asyncio.to_thread(self._write, path, data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread((self.root / key).read_bytes)
        except FileNotFoundError:
            raise BlobMissing(key) from None

    async def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a reader never sees half of it.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
            part.write(data)
        os.replace(part.name, path)


class BucketBlobs(Blobs):
    """A bucket of an S3-compatible store, through ``aioboto3`` (a worker dependency)."""

    def __init__(self, bucket: str, env: Mapping[str, str] = os.environ) -> None:
        import aioboto3  # only where an s3:// store is configured

        self.bucket = bucket
        self.where = f"s3://{bucket}"
        # The standard AWS variables, from the given environment (botocore alone reads only os.environ's);
        # what is not set comes from botocore's own chain (~/.aws, instance roles).
        self._session = aioboto3.Session(aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                                         aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
                                         aws_session_token=env.get("AWS_SESSION_TOKEN"),
                                         region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))
        self._endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        self._warmed: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    def client(self) -> Any:
        """An S3 client, as an async context manager: one per use, so none is left open in any event loop."""
        return self._session.client("s3", endpoint_url=self._endpoint)

    @contextlib.asynccontextmanager
    async def _s3(self) -> AsyncIterator[Any]:
        # The first client of a process reads botocore's service model (~0.3 s of CPU): made once, by the
        # first use, while concurrent first uses wait, instead of each reading it; later ones take ~10 ms.
        loop = asyncio.get_running_loop()
        if self._warmed is None or self._warmed[0] is not loop:
            self._warmed = (loop, asyncio.ensure_future(self._warm()))
        await asyncio.shield(self._warmed[1])
        async with self.client() as s3:
            yield s3

    async def _warm(self) -> None:
        async with self.client():
            pass

    async def put(self, key: str, data: bytes) -> None:
        async with self._s3() as s3:
            await s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def get(self, key: str) -> bytes:
        async with self._s3() as s3:
            try:
                response = await s3.get_object(Bucket=self.bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                raise BlobMissing(key) from None
            async with response["Body"] as body:
                return await body.read()

    async def exists(self, key: str) -> bool:
        async with self._s3() as s3:
            try:
                await s3.head_object(Bucket=self.bucket, Key=key)
            except s3.exceptions.ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return False
                raise
            return True


def blobs_from_env(env: Mapping[str, str] = os.environ) -> Blobs | None:
    """The store ``BATON_PAYLOAD_STORE`` names; None when it names none. One per configuration
    in a process: the payload driver and the context store share a bucket's client session."""
    return _blobs(env.get("BATON_PAYLOAD_STORE", "").strip(), tuple(env.get(name) for name in _AWS))


_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@functools.lru_cache(maxsize=8)
def _blobs(where: str, aws: tuple[str | None, ...]) -> Blobs | None:
    if not where:
        return None
    url = urlparse(where)
    if url.scheme == "file" and url.path:
        return FolderBlobs(Path(url.path))
    if url.scheme == "s3" and url.netloc and url.path in ("", "/"):
        return BucketBlobs(url.netloc, {name: value for name, value in zip(_AWS, aws) if value is not None})
    raise ValueError(f"BATON_PAYLOAD_STORE={where!r}: give file:///a/folder or s3://a-bucket")
