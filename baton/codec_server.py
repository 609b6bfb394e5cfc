"""The codec server the Temporal Web UI (and ``temporal --codec-endpoint``)
calls to show encrypted payloads decrypted to people allowed to see them.

    BATON_CODEC_KEYS=... BATON_CODEC_TOKEN=secret python -m baton.codec_server --port 8081

then in the Web UI: Settings → Codec Server → ``http://localhost:8081``
(tick "pass the access token" when a token is set).

- ``POST /encode`` and ``POST /decode`` take and return ``{"payloads": [...]}``
  (Temporal's JSON form of payloads).
- CORS: only the origins in ``BATON_CODEC_CORS_ORIGINS`` (comma-separated;
  default ``http://localhost:8233``, the embedded Web UI) may call it from a browser.
- ``BATON_CODEC_TOKEN``: when set, requests need ``Authorization: Bearer <token>``.
- ``BATON_PAYLOAD_STORE``: payloads the history holds as references to the
  store are read from it, then decrypted, so the Web UI shows them whole.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
from collections.abc import Mapping

from aiohttp import web
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from temporalio.api.common.v1 import Payloads
from temporalio.converter import DataConverter

from baton.codec import CodecKeyError
from baton.temporal import data_converter

DEFAULT_ORIGINS = "http://localhost:8233"
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


async def read_payloads(converter: DataConverter, payloads: Payloads) -> None:
    """In place, what a client reading a history does with its payloads: references read
    from the store, then decrypted. The SDK's own inbound step (``_transform_inbound_payloads``,
    private in temporalio 1.35, pinned: tests/test_codec.py runs it against a real history)."""
    await converter._transform_inbound_payloads(payloads)


def _authorized(header: str, token: str) -> bool:
    # Compared as bytes: hmac refuses text with non-ASCII characters, which a caller may send.
    return hmac.compare_digest(header.encode("utf-8", "surrogateescape"), f"Bearer {token}".encode())


def make_app(converter: DataConverter, origins: set[str], token: str | None) -> web.Application:
    """``converter``: the codec and the payload store the workers use (``baton.temporal.data_converter``)."""
    @web.middleware
    async def cors_and_auth(request: web.Request, handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":  # a browser's preflight, on any path: answered here
            response: web.StreamResponse = web.Response(status=204)
        elif token and not _authorized(request.headers.get("Authorization", ""), token):
            response = web.json_response({"error": "missing or wrong bearer token"}, status=401)
        else:
            response = await handler(request)
        if origin in origins:  # other origins get no CORS headers: the browser refuses them
            response.headers.update({
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin",
            })
        return response

    async def transform(request: web.Request, encode: bool) -> web.Response:
        try:
            payloads = ParseDict(await request.json(), Payloads())
        except RecursionError:  # JSON nested past what the parser follows: a hostile body, not a server fault
            return web.json_response({"error": "the body is nested too deeply to be payloads"}, status=400)
        except (ValueError, ParseError) as err:
            return web.json_response({"error": str(err)}, status=400)
        try:
            if encode and converter.payload_codec is not None:
                payloads = Payloads(payloads=await converter.payload_codec.encode(list(payloads.payloads)))
            elif not encode:
                await read_payloads(converter, payloads)
        except (ValueError, ParseError) as err:  # a payload that does not decrypt (CodecKeyError) or parse
            status = 422 if isinstance(err, CodecKeyError) else 400
            return web.json_response({"error": str(err)}, status=status)
        except (LookupError, OSError, RuntimeError) as err:  # a reference the store does not hold, or no store
            return web.json_response({"error": str(err)}, status=422)
        return web.json_response(MessageToDict(payloads))

    async def encode(request: web.Request) -> web.Response:
        return await transform(request, encode=True)

    async def decode(request: web.Request) -> web.Response:
        return await transform(request, encode=False)

    app = web.Application(middlewares=[cors_and_auth])
    app.router.add_post("/encode", encode)
    app.router.add_post("/decode", decode)
    return app


def app_from_env(env: Mapping[str, str] = os.environ) -> web.Application:
    converter = data_converter(env)
    if converter.payload_codec is None and converter.external_storage is None:
        raise SystemExit("neither BATON_CODEC_KEYS nor BATON_PAYLOAD_STORE is set: nothing to decode "
                         "(python -m baton.codec makes a key)")
    origins = {o.strip() for o in env.get("BATON_CODEC_CORS_ORIGINS", DEFAULT_ORIGINS).split(",") if o.strip()}
    token = env.get("BATON_CODEC_TOKEN") or None
    if token is None:
        print("warning: BATON_CODEC_TOKEN is not set: anyone who can reach this server can decrypt payloads "
              "(set a token, or keep it on 127.0.0.1 for yourself alone)", file=sys.stderr)
    return make_app(converter, origins, token)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    web.run_app(app_from_env(), host=args.host, port=args.port)
