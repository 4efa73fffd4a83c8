"""Ed25519 signatures of export files (docs/learning.md, "Verifying a file").

The signed message is the canonical serialisation of the payload (the file without `signature` and
`public_key`): JSON with keys sorted, no spaces (separators "," and ":"), non-ASCII escaped as \\uXXXX,
no NaN or infinity, encoded as UTF-8. Python's float repr round-trips, so parsing a file and
serialising it again gives the same bytes: a verifier needs no more than a JSON parser.

The private key is a PKCS#8 PEM file (mode 0600) under DATA_DIR, created at first use with O_EXCL so
two processes starting at once agree on one key. A file and not a database row: database dumps and
backups are shared more freely than the data directory, and a key that leaves with them could sign
exports in this instance's name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from luna_iems.errors import InvalidInputError

SIGNATURE_FIELDS = ("signature", "public_key")
KEY_FILE_MODE = 0o600


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, ASCII, no NaN. Raises ValueError on NaN."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("utf-8")


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def fingerprint(public_key_b64_text: str) -> str:
    """SHA-256 (hex) of the raw 32 public-key bytes: what LEARN_TRUSTED_KEYS and errors name."""
    return hashlib.sha256(base64.b64decode(public_key_b64_text, validate=True)).hexdigest()


def key_path(data_dir: Path) -> Path:
    return data_dir / "learn" / "signing_key.pem"


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """This instance's signing key: read from `key_path`, or generated and written there (0600) at
    first use. Raises OSError when the file cannot be read or written, ValueError when it is not an
    Ed25519 PEM key."""
    path = key_path(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        except FileExistsError:
            pass  # another process won the race: use its key
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return loaded


def sign(payload: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The payload plus `signature` (base64 Ed25519 over `canonical_bytes(payload)`) and `public_key`
    (base64 of the raw 32 bytes)."""
    signature = key.sign(canonical_bytes(payload))
    return {
        **payload,
        "signature": base64.b64encode(signature).decode("ascii"),
        "public_key": public_key_b64(key.public_key()),
    }


@dataclass(frozen=True)
class Verified:
    payload: dict[str, Any]
    public_key: str
    key_fingerprint: str
    digest_sha256: str  # of the canonical payload: the identity of the export, whatever its formatting


def verify(document: Any) -> Verified:
    """Checks the Ed25519 signature of a parsed export file against the public key it carries.

    Raises InvalidInputError naming what is wrong: not an object, a missing or malformed `signature`
    or `public_key`, or a signature that does not verify (the file was changed after signing, or
    signed by another key). Whether the key is trusted is the caller's decision."""
    if not isinstance(document, dict):
        raise InvalidInputError("the export must be a JSON object", details={"field": "body"})
    for name in SIGNATURE_FIELDS:
        if not isinstance(document.get(name), str):
            raise InvalidInputError(
                f"{name}: missing or not a string (is this a signed export?)", details={"field": name}
            )
    try:
        raw_key = base64.b64decode(document["public_key"], validate=True)
        signature = base64.b64decode(document["signature"], validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(raw_key)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(
            f"public_key/signature: not a base64 Ed25519 key and signature ({exc})",
            details={"field": "public_key"},
        ) from None
    payload = {k: v for k, v in document.items() if k not in SIGNATURE_FIELDS}
    try:
        message = canonical_bytes(payload)
    except ValueError as exc:
        raise InvalidInputError(f"the payload cannot be serialised canonically: {exc}") from None
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        raise InvalidInputError(
            "signature: does not verify against the file's public_key (the file was changed after "
            "signing, or the signature belongs to another key)",
            details={"field": "signature", "key_fingerprint": hashlib.sha256(raw_key).hexdigest()},
        ) from None
    return Verified(
        payload=payload,
        public_key=document["public_key"],
        key_fingerprint=hashlib.sha256(raw_key).hexdigest(),
        digest_sha256=hashlib.sha256(message).hexdigest(),
    )
