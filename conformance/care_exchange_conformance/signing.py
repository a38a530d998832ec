"""Ed25519 keys and detached JWS signatures over a file's exact bytes (RFC 7515 appendix F).

A signature is a JWS in compact serialization with an empty payload segment:
`BASE64URL(header)..BASE64URL(signature)`, the header `{"alg": "Ed25519", "kid": <thumbprint>}`
(the fully-specified name RFC 9864 gives EdDSA over Ed25519; `kid` is the public key's RFC 7638
thumbprint). The signed payload is the file, byte for byte, so the file itself stays as it was.

Keys are read from a PEM file (PKCS#8 private key, SubjectPublicKeyInfo public key: what
`openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write) or a JWK JSON file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

ALGORITHM = "Ed25519"
SUFFIX = ".jws"
_REGISTRY = jws.JWSRegistry(algorithms=[ALGORITHM])


class KeyFileError(Exception):
    """A key file that cannot be read, or holds no usable Ed25519 key."""


class SignatureError(Exception):
    """A signature that is malformed or does not verify."""


def signature_path(signed: Path) -> Path:
    """Where the signature of `signed` is written: beside it, `.jws` appended to its name."""
    return signed.with_name(signed.name + SUFFIX)


def _load(path: Path) -> OKPKey:
    try:
        text = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read the key file {path}: {error.strerror}") from None
    try:
        data: Any = json.loads(text) if text.lstrip().startswith(b"{") else text
        key = OKPKey.import_key(data)
    except (JoseError, ValueError, TypeError) as error:
        raise KeyFileError(
            f"{path} holds no Ed25519 key (an unencrypted PEM file or a JWK): {error}"
        ) from None
    if key.curve_name != "Ed25519":
        raise KeyFileError(f"{path} holds an {key.curve_name} key, not an Ed25519 key")
    return key


def load_private_key(path: Path) -> OKPKey:
    key = _load(path)
    if not key.is_private:
        raise KeyFileError(f"{path} holds a public key; signing needs the private key")
    return key


def load_public_key(path: Path) -> OKPKey:
    """The public key in `path`; a private key file gives its public half."""
    key = _load(path)
    return OKPKey.import_key(key.as_dict(private=False)) if key.is_private else key


def key_id(key: OKPKey) -> str:
    """The key's RFC 7638 thumbprint (SHA-256), the `kid` of the signatures it makes."""
    return key.thumbprint()


def sign(payload: bytes, key: OKPKey) -> str:
    """A detached compact JWS over `payload`."""
    header = {"alg": ALGORITHM, "kid": key_id(key)}
    return jws.detach_content(jws.serialize_compact(header, payload, key, registry=_REGISTRY))


def sign_file(path: Path, key: OKPKey) -> Path:
    """Sign the file's bytes; write the signature beside it and return where."""
    target = signature_path(path)
    target.write_text(sign(path.read_bytes(), key) + "\n", encoding="ascii")
    return target


def verify(payload: bytes, signature: str, key: OKPKey) -> None:
    """Raise `SignatureError` unless `signature` is a detached JWS over `payload` by `key`."""
    compact = signature.strip()
    parts = compact.split(".")
    if len(parts) != 3 or parts[1]:
        raise SignatureError("the signature is not a detached JWS (header..signature)")
    try:
        header = jws.extract_compact(compact.encode("ascii"), payload, _REGISTRY).headers()
        _REGISTRY.check_header(header)
    except (JoseError, ValueError, UnicodeError) as error:
        raise SignatureError(f"the signature cannot be read: {error}") from None
    if header.get("alg") != ALGORITHM:
        raise SignatureError(f"the signature's algorithm is {header.get('alg')!r}, not {ALGORITHM}")
    try:
        jws.deserialize_compact(compact, key, registry=_REGISTRY, payload=payload)
    except JoseError:
        signer = header.get("kid")
        if signer is not None and signer != key_id(key):
            raise SignatureError(
                f"it was signed by another key (kid {signer}), not by this one (kid {key_id(key)})"
            ) from None
        raise SignatureError(
            "the signature does not match the signed file: it was changed after it was signed"
        ) from None


def generate() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def write_new_key(path: Path) -> Path:
    """Write a new key pair; return the public key's path.

    The private key goes to `path` (PEM, owner-only), the public key beside it as `<path>.pub`;
    neither is ever overwritten.
    """
    public = path.with_name(path.name + ".pub")
    for existing in (path, public):
        if existing.exists():
            raise KeyFileError(f"{existing} exists; a key is never overwritten")
    key = generate()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(key.as_pem(private=True))
        public.write_bytes(key.as_pem(private=False))
    except OSError as error:
        raise KeyFileError(f"cannot write {error.filename}: {error.strerror}") from None
    return public
