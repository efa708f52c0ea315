"""Signed checkpoints of the audit log's head (Ed25519), and the keys that make and check them.

A hash chain shows that entries were not changed one by one; someone able to write the warehouse could
still rewrite history and recompute every hash after it. A checkpoint signed with a key kept elsewhere
(the data protection officer's, say) fixes the chain's hash at a sequence number: after it, neither a
rewrite before that number nor removing entries up to it passes ``verify --public-key``. Keep copies of
checkpoints (``safer audit export``) outside the warehouse: whoever can write it can delete rows, and
only a checkpoint held elsewhere proves that later ones existed.

Keys are PEM files: the private key PKCS#8 (unencrypted, mode 0600, like an SSH key), the public key
SubjectPublicKeyInfo, as ``openssl pkey -pubout`` writes it. The signed bytes are described on
:class:`~safertogether.access.audit.Checkpoint`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from safertogether.access.audit import Checkpoint, checkpoints, verify
from safertogether.errors import AuditChainError, BadRequestError, MissingDataError

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

DEFAULT_KEY: Final = "safer-audit.key"


def default_key_path() -> Path:
    """``SAFER_AUDIT_KEY`` when set, else ``safer-audit.key`` in the working directory."""
    return Path(os.environ.get("SAFER_AUDIT_KEY") or DEFAULT_KEY)


def public_key_path(private_key: Path) -> Path:
    """Where :func:`generate_key` puts the public half: beside the private key, with ``.pub`` added."""
    return private_key.with_name(private_key.name + ".pub")


def generate_key(out: Path) -> tuple[Path, Path]:
    """A new signing key: the private key at ``out`` (mode 0600), the public key at ``out.pub``.

    Refuses to overwrite either file: replacing a signing key would orphan the checkpoints it signed.
    """
    public_out = public_key_path(out)
    for path in (out, public_out):
        if path.exists():
            raise BadRequestError(f"{path} exists already; choose another --out (an old key still checks "
                                  "the checkpoints it signed)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as sink:
        os.fchmod(sink.fileno(), 0o600)  # whatever the umask
        sink.write(private_pem)
    public_out.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    return out, public_out


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at ``path``, refused when others may read the file."""
    if not path.exists():
        raise MissingDataError(f"no audit signing key at {path}; create one with `safer audit keygen --out {path}`")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise BadRequestError(f"{path} may be read by other users; restrict it with `chmod 600 {path}`")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BadRequestError(f"{path} is not an Ed25519 private key; make one with `safer audit keygen`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key at ``path`` (PEM), as ``safer audit keygen`` wrote it beside the private key."""
    if not path.exists():
        raise MissingDataError(f"no public key at {path}; it is the .pub file `safer audit keygen` wrote")
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError as exc:
        raise BadRequestError(f"{path} is not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadRequestError(f"{path} is not an Ed25519 public key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signature_problem(mark: Checkpoint, public_keys: Sequence[Ed25519PublicKey]) -> str | None:
    """Why ``mark``'s signature does not hold with the given keys, or None when it does."""
    by_id = {key_id(key): key for key in public_keys}
    key = by_id.get(mark.key_id)
    if key is None:
        return (f"checkpoint {mark.seq} was signed by key {mark.key_id}, which is not among the public keys "
                f"given ({', '.join(sorted(by_id))})")
    try:
        key.verify(bytes.fromhex(mark.signature), mark.message())
    except (InvalidSignature, ValueError):
        return f"checkpoint {mark.seq}'s signature does not verify: the checkpoint was forged or altered"
    return None


def sign_checkpoint(warehouse: Warehouse, private_key: Ed25519PrivateKey) -> Checkpoint:
    """Sign the chain's head and store the checkpoint; the chain must verify first (nothing bad is signed).

    Checkpoints by this key are checked with it; those of other keys only for their hash (the signer
    holds one key). Signing a head already signed by this key returns that checkpoint.
    """
    public = private_key.public_key()
    report = verify(warehouse)
    own = key_id(public)
    problem = report.problem or next(
        (p for mark in _own_checkpoints(warehouse, own) if (p := signature_problem(mark, [public]))), None)
    if problem:
        raise AuditChainError(f"the audit log does not verify, so nothing was signed: {problem}. Run "
                              "`safer audit verify` and investigate before signing")
    seq, digest = report.head_seq, report.head_hash  # what was verified, whatever was appended since
    if seq == 0:
        raise MissingDataError("the audit log is empty: there is no head to sign yet")
    existing = [mark for mark in _own_checkpoints(warehouse, own) if mark.seq == seq]
    if existing:
        return existing[0]
    unsigned = Checkpoint(seq, digest, datetime.now(UTC).replace(tzinfo=None), own, "")
    mark = Checkpoint(seq, digest, unsigned.signed_at, own, private_key.sign(unsigned.message()).hex())
    warehouse.execute("INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)",
                      [mark.seq, mark.hash, mark.signed_at, mark.key_id, mark.signature])
    return mark


def _own_checkpoints(warehouse: Warehouse, own: str) -> list[Checkpoint]:
    return [mark for mark in checkpoints(warehouse) if mark.key_id == own]
