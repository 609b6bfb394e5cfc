"""Whether this worker stores large payloads externally (``BATON_PAYLOAD_STORE``,
baton/payload_store.py), asked by a run only when a payload would exceed
Temporal's limit: then the store carries it and the history a reference. A local
activity, so the run's history records the answer and replays the same."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client


class PayloadStoreCheck:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="payload_store")
    async def threshold(self) -> int | None:
        """The size past which this worker's payloads go to the store; None: no store."""
        storage = self._client.data_converter.external_storage
        return storage.payload_size_threshold if storage is not None else None
