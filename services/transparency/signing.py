"""How a published version is made checkable by anyone (SPEC T: every publication a new immutable version).

- The content hash is SHA-256 over the rows in publication order, each as canonical JSON (keys sorted,
  UTF-8, no spaces) followed by a newline: anyone can recompute it from the JSON download.
- The record hash is SHA-256 over the canonical JSON of the version's record (slug, version, publication
  time, row count, content hash, the previous version's record hash, note): the versions of a dataset
  form a chain, so an edited or missing version breaks it.
- The signature is Ed25519 over the record hash (its hex text), with the organization's key; the public
  key is published at /api/v1/transparency/public-key.
Pure functions and the key loader; no database."""
from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64
RECORD_FIELDS = ("slug", "version", "published_at", "row_count", "content_sha256", "prev_sha256", "note")


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ContentHash:
    """Fed row by row (publication streams its rows); `hexdigest()` and `count` at the end."""

    def __init__(self):
        self._sha = hashlib.sha256()
        self.count = 0

    def add(self, row: dict) -> bytes:
        line = canonical(row)
        self._sha.update(line + b"\n")
        self.count += 1
        return line

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def content_sha256(rows: Iterable[dict]) -> str:
    digest = ContentHash()
    for row in rows:
        digest.add(row)
    return digest.hexdigest()


def record_sha256(record: dict) -> str:
    return hashlib.sha256(canonical({field: record[field] for field in RECORD_FIELDS})).hexdigest()


class Signer:
    def __init__(self, private_key: Ed25519PrivateKey):
        self._key = private_key

    @classmethod
    def from_seed(cls, seed_b64: str) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64)))

    def sign(self, record_hash: str) -> str:
        return base64.b64encode(self._key.sign(record_hash.encode())).decode()

    def public_key_b64(self) -> str:
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()


def load_signer(seed_b64: str, key_file: Path) -> Signer:
    """The deployment's key (TRANSPARENCY_SIGNING_KEY: base64 of the 32-byte Ed25519 seed, from a Secret);
    for the local run, a key kept in the data folder, made on first use."""
    if seed_b64:
        return Signer.from_seed(seed_b64)
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        draft = key_file.with_name(f"{key_file.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(base64.b64encode(seed).decode())
        try:
            os.link(draft, key_file)  # whole or not at all; a process that got there first wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return Signer.from_seed(key_file.read_text().strip())


def signature_ok(public_key_b64: str, record_hash: str, signature_b64: str) -> bool:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    try:
        key.verify(base64.b64decode(signature_b64), record_hash.encode())
        return True
    except (InvalidSignature, ValueError):
        return False


def verify_chain(slug: str, versions: list[dict], public_key_b64: str,
                 content_hashes: dict[int, str] | None = None) -> list[str]:
    """Every break in one dataset's versions, as sentences; [] when intact. `versions` are the published
    records in version order; `content_hashes` (version -> hash recomputed from the rows), when given,
    are checked against the records."""
    problems: list[str] = []
    prev = GENESIS
    for expected, record in enumerate(versions, start=1):
        where = f"{slug} v{record['version']}"
        if record["version"] != expected:
            problems.append(f"{slug}: version {expected} is missing (found v{record['version']})")
        if record["prev_sha256"] != prev:
            problems.append(f"{where}: does not follow the version before it (prev_sha256)")
        if record_sha256(record) != record["record_sha256"]:
            problems.append(f"{where}: its record was altered (record_sha256)")
        if not signature_ok(public_key_b64, record["record_sha256"], record["signature"]):
            problems.append(f"{where}: the signature does not verify")
        if content_hashes is not None and content_hashes.get(record["version"]) != record["content_sha256"]:
            problems.append(f"{where}: its rows are not the rows published (content_sha256)")
        prev = record["record_sha256"]
    return problems
