"""Whether the namespace has Baton's search attributes, asked once per worker.

A run started without ``BatonPattern`` (the temporal CLI, another SDK) asks this
through a local activity, so its history records the answer and replays the same;
it sets the attributes only when they exist, since upserting an unregistered one
fails the workflow task. Such a run that is a fork also asks for ``BatonForkOf``,
which namespaces set up before it existed may lack."""

from __future__ import annotations

import time

import structlog
from temporalio import activity
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from baton import search

log = structlog.get_logger("baton.indexing")

RECHECK_SECONDS = 60.0  # a namespace that lacked some of them is asked again after this


class SearchAttributeCheck:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._names: set[str] | None = None  # the namespace's custom search attributes, when last asked
        self._asked_at = 0.0
        self._warned = False

    @activity.defn(name="search_attributes_registered")
    async def registered(self) -> bool:
        names = await self._registered_names()
        known = all(key.name in names for key in search.KEPT_BY_RUNS)
        if not known and not self._warned:
            self._warned = True
            log.warning("runs started without BatonPattern stay unindexed: the namespace lacks Baton's search "
                        "attributes; register them with `temporal operator search-attribute create "
                        + " ".join(search.create_flags()) + "`", namespace=self._client.namespace)
        return known

    @activity.defn(name="fork_search_attribute_registered")
    async def fork_registered(self) -> bool:
        return search.FORK_OF.name in await self._registered_names()

    async def _registered_names(self) -> set[str]:
        if self._names is not None:
            complete = all(key.name in self._names for key in search.ATTRIBUTES)
            if complete or time.monotonic() - self._asked_at < RECHECK_SECONDS:
                return self._names
        namespace = self._client.namespace
        try:
            reply = await self._client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace))
            names = set(reply.custom_attributes)
        except RPCError as err:  # e.g. no operator permission: behave as unregistered
            log.warning("could not list the namespace's search attributes", namespace=namespace, error=str(err))
            names = set()
        self._names, self._asked_at = names, time.monotonic()
        return names
