"""Payload encryption at rest: an AES-GCM ``PayloadCodec``.

With ``BATON_CODEC_KEYS`` set, every payload Baton's clients and workers send
to Temporal (inputs, prompts, outputs, results, signal and update arguments) is
encrypted before it leaves the process; the Temporal server, its database and
its Web UI see only ciphertext. The Web UI shows plain text to authorised users
through the codec server (``baton.codec_server``).

``BATON_CODEC_KEYS="k2=<base64 32 bytes>,k1=<base64 32 bytes>"``: the first key
encrypts, every key decrypts, so rotation is: put the new key first, keep the
old ones until no open run or retained history needs them. The key id travels in
each payload's metadata; payloads written before encryption was turned on are
read as they are. Make a key with ``python -m baton.codec``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class CodecKeyError(ValueError):
    """BATON_CODEC_KEYS is malformed, or a payload names a key this process lacks."""


def parse_keys(raw: str) -> dict[str, bytes]:
    """``id=base64,...`` into ordered ``{id: 32-byte key}``; the first encrypts."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        key_id, sep, encoded = part.partition("=")
        if not sep or not key_id:
            raise CodecKeyError("BATON_CODEC_KEYS: expected id=base64key[,id=base64key...]")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CodecKeyError(f"BATON_CODEC_KEYS: key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise CodecKeyError(f"BATON_CODEC_KEYS: key {key_id!r} must be 32 bytes (AES-256), not {len(key)}")
        keys[key_id] = key
    if not keys:
        raise CodecKeyError("BATON_CODEC_KEYS is empty")
    return keys


class AesGcmCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes]):
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = next(iter(keys))

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self._current.encode()}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was on
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise CodecKeyError(f"payload encrypted with key {key_id!r}, which is not in BATON_CODEC_KEYS")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise CodecKeyError(f"payload does not decrypt with key {key_id!r}: tampered, or another key under that id") from None
        return Payload.FromString(plain)


def codec_from_env(env: Mapping[str, str] = os.environ) -> AesGcmCodec | None:
    raw = env.get("BATON_CODEC_KEYS")
    return AesGcmCodec(parse_keys(raw)) if raw else None


if __name__ == "__main__":
    print(f"key-{secrets.token_hex(2)}={base64.b64encode(secrets.token_bytes(32)).decode()}")
