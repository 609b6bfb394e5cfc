"""Payload encryption: the AES-GCM codec (keys, rotation, tampering), runs on
the dev server whose history holds only ciphertext, and the codec server the
Web UI calls (decode, bearer token, CORS)."""

from __future__ import annotations

import base64
import secrets
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf.json_format import MessageToDict
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from baton import client as baton
from baton.codec import ENCODING, KEY_ID, AesGcmCodec, CodecKeyError, parse_keys
from baton.codec_server import make_app
from baton.contracts import PipelineInput, StageSpec
from baton.temporal import data_converter
from tests.conftest import address_of, real_worker


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def plain(text: str) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([text])[0]


async def test_payloads_round_trip_and_old_keys_still_decrypt_after_rotation():
    k1, k2 = new_key(), new_key()
    before = AesGcmCodec(parse_keys(f"k1={k1}"))
    [sealed] = await before.encode([plain("the tide brief")])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert b"tide" not in sealed.data

    after = AesGcmCodec(parse_keys(f"k2={k2},k1={k1}"))  # rotated: k2 encrypts, k1 still decrypts
    [resealed] = await after.encode([plain("x")])
    assert resealed.metadata[KEY_ID] == b"k2"
    assert await after.decode([sealed, resealed]) == [plain("the tide brief"), plain("x")]
    assert await after.decode([plain("written before encryption")]) == [plain("written before encryption")]

    with pytest.raises(CodecKeyError, match="key 'k2', which is not in BATON_CODEC_KEYS"):
        await before.decode([resealed])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(CodecKeyError, match="tampered"):
        await before.decode([tampered])


@pytest.mark.parametrize(("raw", "message"), [("", "empty"), ("k1", "expected id=base64key"), ("k1=not*base64", "not base64"),
                                              ("k1=" + base64.b64encode(b"short").decode(), "must be 32 bytes")])
def test_bad_keys_are_refused_with_the_reason(raw, message):
    with pytest.raises(CodecKeyError, match=message):
        parse_keys(raw)


async def test_a_run_with_encryption_leaves_only_ciphertext_in_the_history(dev_env, llm, task_queue):
    keys = f"k1={new_key()}"
    secret_goal = f"Explain the tides of Brittany {uuid.uuid4().hex}"
    env = {"BATON_CODEC_KEYS": keys}
    client = await Client.connect(address_of(dev_env), data_converter=data_converter(env))
    llm.script_stage("draft", "Brittany has the second largest tides in the world.")
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, PipelineInput(goal=secret_goal, stages=[StageSpec(name="draft", agent="writer")]),
                                   queue=task_queue)
        result = await baton.wait_result(client, handle.id)
    assert result.final == "Brittany has the second largest tides in the world."
    assert secret_goal in llm.requests[0].prompt  # the worker decrypted it for the model

    raw = (await dev_env.client.get_workflow_handle(handle.id).fetch_history()).to_json()  # no codec: what the server holds
    assert secret_goal not in raw and "second largest tides" not in raw
    assert base64.b64encode(ENCODING).decode() in raw

    # The codec server decrypts those payloads for the Web UI.
    events = [e async for e in dev_env.client.get_workflow_handle(handle.id).fetch_history_events()]
    started = events[0].workflow_execution_started_event_attributes.input
    async with TestClient(TestServer(make_app(data_converter(env), {"http://localhost:8233"}, None))) as http:
        response = await http.post("/decode", json=MessageToDict(started))
        assert response.status == 200
        decoded = await response.json()
    text = base64.b64decode(decoded["payloads"][0]["data"]).decode()
    assert secret_goal in text


async def codec_server(token: str | None = "s3cret") -> TestClient:
    app = make_app(data_converter({"BATON_CODEC_KEYS": f"k1={new_key()}"}), {"http://localhost:8233"}, token)
    return TestClient(TestServer(app))


async def test_codec_server_needs_the_bearer_token_and_answers_only_allowed_origins():
    body = MessageToDict(Payloads(payloads=[plain("hello")]))
    async with await codec_server() as http:
        assert (await http.post("/encode", json=body)).status == 401
        assert (await http.post("/encode", json=body, headers={"Authorization": "Bearer wrong"})).status == 401
        encoded = await http.post("/encode", json=body, headers={"Authorization": "Bearer s3cret"})
        assert encoded.status == 200
        decoded = await http.post("/decode", json=await encoded.json(), headers={"Authorization": "Bearer s3cret"})
        assert base64.b64decode((await decoded.json())["payloads"][0]["data"]) == plain("hello").data

        allowed = await http.options("/decode", headers={"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
        assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
        other = await http.options("/decode", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in other.headers

        bad = await http.post("/decode", data="not json", headers={"Authorization": "Bearer s3cret",
                                                                   "Content-Type": "application/json"})
        assert bad.status == 400


async def test_the_codec_server_shows_payloads_kept_in_the_store_whole(dev_env, llm, task_queue, tmp_path):
    env = {"BATON_CODEC_KEYS": f"k1={new_key()}", "BATON_PAYLOAD_STORE": (tmp_path / "store").as_uri()}
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace, data_converter=data_converter(env))
    answer = "Tides_of_Brittany;" * 25_000  # 450 KB, past the store's threshold (one word: a few chunks)
    llm.script_stage("draft", answer)
    async with real_worker(client, llm, task_queue, **env):
        handle = await baton.start(client, PipelineInput(goal="tides", stages=[StageSpec(name="draft", agent="writer")]),
                                   queue=task_queue)
        await baton.wait_result(client, handle.id)
    events = [e async for e in dev_env.client.get_workflow_handle(handle.id).fetch_history_events()]
    answered = next(e.activity_task_completed_event_attributes.result for e in events  # the agent call's
                    if e.HasField("activity_task_completed_event_attributes"))
    assert answered.ByteSize() < 2_000 and b"Brittany" not in answered.SerializeToString()  # a reference: no text
    body = MessageToDict(answered)
    for where, status in ((env, 200), ({"BATON_CODEC_KEYS": env["BATON_CODEC_KEYS"]}, 422)):
        async with TestClient(TestServer(make_app(data_converter(where), {"http://localhost:8233"}, None))) as http:
            response = await http.post("/decode", json=body)
            assert response.status == status, await response.text()
            if status == 200:
                assert answer in base64.b64decode((await response.json())["payloads"][0]["data"]).decode()
            else:
                assert "TMPRL1105" in (await response.json())["error"]  # without the store: said so, not a crash


async def test_hostile_requests_are_refused_and_the_codec_server_keeps_serving():
    body = MessageToDict(Payloads(payloads=[plain("hello")]))
    good = {"Authorization": "Bearer s3cret"}
    async with await codec_server() as http:
        # A non-ASCII token (hmac refuses to compare non-ASCII text) and 400 KB of nested brackets.
        odd = await http.post("/encode", json=body, headers={"Authorization": "Bearer s3cr\u00e9t".encode().decode("latin-1")})
        assert odd.status == 401
        deep = await http.post("/decode", data="[" * 400_000, headers={**good, "Content-Type": "application/json"})
        assert deep.status == 400 and "error" in await deep.json()
        assert (await http.post("/encode", json=body, headers=good)).status == 200  # still serving


def test_a_codec_server_without_a_token_says_who_can_read(capsys):
    from baton.codec_server import app_from_env

    app_from_env({"BATON_CODEC_KEYS": f"k1={new_key()}"})
    assert "BATON_CODEC_TOKEN" in capsys.readouterr().err
    app_from_env({"BATON_CODEC_KEYS": f"k1={new_key()}", "BATON_CODEC_TOKEN": "t"})
    assert capsys.readouterr().err == ""
