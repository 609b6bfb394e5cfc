"""Connecting to Temporal: the standard ``TEMPORAL_*`` variables through
``temporalio.envconfig``, the pydantic data converter (encrypted when asked),
Baton's task queue."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig

from baton import telemetry
from baton.payload_store import external_storage

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_TASK_QUEUE = "baton"
DEFAULT_UI_URL = "http://localhost:8233"


def task_queue(env: Mapping[str, str] = os.environ) -> str:
    return env.get("BATON_TASK_QUEUE") or DEFAULT_TASK_QUEUE


def connect_config(env: Mapping[str, str] = os.environ) -> dict:
    """``Client.connect`` keyword arguments from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
    TEMPORAL_API_KEY, TEMPORAL_TLS*, and TEMPORAL_PROFILE / the config file."""
    config = dict(ClientConfig.load_client_connect_config(profile=env.get("TEMPORAL_PROFILE"), override_env_vars=dict(env)))
    config.setdefault("target_host", DEFAULT_ADDRESS)
    config.setdefault("namespace", "default")
    return config


def data_converter(env: Mapping[str, str] = os.environ) -> DataConverter:
    """Pydantic payloads, encrypted with AES-GCM when BATON_CODEC_KEYS is set (baton.codec),
    the large ones in the payload store BATON_PAYLOAD_STORE names (baton.payload_store)."""
    storage = external_storage(env)
    converter = dataclasses.replace(pydantic_data_converter, external_storage=storage) if storage else pydantic_data_converter
    if not env.get("BATON_CODEC_KEYS"):
        return converter
    from baton.codec import codec_from_env  # cryptography: only where payloads are encrypted

    codec = codec_from_env(env)
    return dataclasses.replace(converter, payload_codec=codec) if codec else converter


async def connect(env: Mapping[str, str] = os.environ) -> Client:
    """A client with Baton's converter, and the metrics runtime and tracing
    interceptor when the environment asks for them (``baton.telemetry``)."""
    config = connect_config(env)
    try:
        return await Client.connect(**config, data_converter=data_converter(env), runtime=telemetry.runtime(env),
                                    interceptors=telemetry.tracing_interceptors(env))
    except RuntimeError as err:
        raise RuntimeError(
            f"cannot reach the Temporal server at {config['target_host']}: {err}\n"
            "Start the embedded one with `python starter.py run`, or set TEMPORAL_ADDRESS."
        ) from None


def web_ui_url(workflow_id: str, run_id: str | None = None, namespace: str = "default", env: Mapping[str, str] = os.environ) -> str:
    base = (env.get("BATON_UI_URL") or DEFAULT_UI_URL).rstrip("/")
    url = f"{base}/namespaces/{namespace}/workflows/{workflow_id}"
    return f"{url}/{run_id}/history" if run_id else url
