"""The store of outputs later steps see by reference (baton/context_store.py),
on a real folder: content-addressed, encrypted with the payload codec, missing
entries named, and a worker's recent texts served from memory."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.exceptions import ApplicationError

from baton.context_store import ContextStore
from baton.blob_store import FolderBlobs
from baton.temporal import data_converter


def store(root, **env: str) -> ContextStore:
    return ContextStore(FolderBlobs(root), data_converter(env))


async def test_a_text_is_kept_once_under_its_hash_and_read_back_elsewhere(tmp_path):
    text = "the draft " * 1_000
    ref = await store(tmp_path).put(text)
    assert ref == await store(tmp_path).put(text) and len(ref) == 32
    assert len(list((tmp_path / "baton-texts").rglob("*"))) == 2  # one folder, one file
    assert await store(tmp_path).get(ref, "draft") == text  # another worker, same folder: no memory of it


async def test_with_codec_keys_the_store_holds_no_plaintext(tmp_path):
    keys = f"k1={base64.b64encode(os.urandom(32)).decode()}"
    text = "a secret plan " * 100
    ref = await store(tmp_path, BATON_CODEC_KEYS=keys).put(text)
    stored = next(p for p in (tmp_path / "baton-texts").rglob("*") if p.is_file()).read_bytes()
    assert b"secret plan" not in stored
    assert await store(tmp_path, BATON_CODEC_KEYS=keys).get(ref, "plan") == text


async def test_a_missing_output_is_named_with_the_store_and_the_setting(tmp_path):
    with pytest.raises(ApplicationError) as missing:
        await store(tmp_path).get("0" * 32, "research")
    assert missing.value.type == "ContextMissing"
    assert "'research'" in missing.value.message and tmp_path.as_uri() in missing.value.message
    assert "BATON_PAYLOAD_STORE" in missing.value.message
    with pytest.raises(ApplicationError, match="not a context reference"):
        await store(tmp_path).get("../../etc/passwd", "x")


async def test_recent_texts_come_from_memory_the_least_recent_leaving_first(tmp_path):
    kept = ContextStore(FolderBlobs(tmp_path), data_converter({}), recent_chars=2_500)
    refs = [await kept.put(letter * 1_000) for letter in "abc"]  # 3,000 characters: "a" leaves
    for path in (tmp_path / "baton-texts").rglob("*"):
        if path.is_file():
            path.unlink()  # only memory can answer now
    assert await kept.get(refs[2], "c") == "c" * 1_000 and await kept.get(refs[1], "b") == "b" * 1_000
    with pytest.raises(ApplicationError, match="ContextMissing|is not in the store"):
        await kept.get(refs[0], "a")
