"""The caller's identity between the gateway and the services (issue 18, "trust between services").

A request that acts for someone carries that someone as its `actor` argument. Only the gateway decides
who a caller is, so only the gateway can vouch for an actor: it signs every request it sends with its
Ed25519 key, over the routing key, the deadline and the exact bytes of the body, and puts the signature
in the `nameko.caller_signature` header. A service (common.rpc.Rpc) runs a request that names an actor
only when that signature verifies with one of its verify keys; anything else (a pod that is not the
gateway, a replay with other arguments, one past its deadline) is refused before it runs. The services
hold public keys only, so no service can mint an actor either.

Keys: CALLER_SIGNING_KEY (the gateway; base64 of the 32-byte Ed25519 seed) and CALLER_VERIFY_KEYS (the
services; base64 public keys, comma-separated: the current one and, while rotating, the next or the
previous one). Both empty: the local run's well-known development key, which production refuses.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HEADER = "caller_signature"  # on the wire: nameko.caller_signature
DEVELOPMENT_SEED = hashlib.sha256(b"welfare-platform local development caller key").digest()


def _signed_bytes(routing_key: str, deadline: float, body: bytes | str) -> bytes:
    if isinstance(body, str):
        body = body.encode("utf-8")  # kombu's json serializer gives text; the wire carries its UTF-8
    return b"\n".join([routing_key.encode(), repr(float(deadline)).encode(), hashlib.sha256(body).digest()])


@lru_cache
def _private_key(seed_b64: str) -> Ed25519PrivateKey:
    seed = base64.b64decode(seed_b64) if seed_b64 else DEVELOPMENT_SEED
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_b64(seed_b64: str) -> str:
    raw = _private_key(seed_b64).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@lru_cache
def _public_keys(keys_b64: str) -> tuple[Ed25519PublicKey, ...]:
    keys = [k.strip() for k in keys_b64.split(",") if k.strip()] or [public_key_b64("")]
    return tuple(Ed25519PublicKey.from_public_bytes(base64.b64decode(k)) for k in keys)


def sign(seed_b64: str, routing_key: str, deadline: float, body: bytes) -> str:
    return base64.b64encode(_private_key(seed_b64).sign(_signed_bytes(routing_key, deadline, body))).decode()


def verify(keys_b64: str, routing_key: str, deadline, body: bytes, signature) -> bool:
    if not isinstance(signature, (str, bytes)) or deadline is None:
        return False
    try:
        raw, signed = base64.b64decode(signature, validate=True), _signed_bytes(routing_key, float(deadline), body)
    except (ValueError, TypeError):
        return False
    for key in _public_keys(keys_b64):
        try:
            key.verify(raw, signed)
            return True
        except InvalidSignature:
            continue
    return False
