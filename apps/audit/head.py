"""The chain head: the length of the audit chain and the hash of its last event, signed with a key.

A hash chain alone shows that no event inside it was altered, removed or reordered, but not where it ends:
cutting the last events off, or appending an event whose hash was computed by hand, leaves a chain whose
links all hold. The head, advanced by the service in the same transaction as each append, says where the
chain ends; its HMAC signature means that only code holding the key (PLAYBOOK_AUDIT_KEY, else a key
derived from SECRET_KEY) can move it, so a raw SQL session can cut or extend the chain but cannot make the
head agree. What the head cannot show is a whole earlier state put back (old events and the old signed head
together): a backup's manifest, kept elsewhere, records the head at that time for that.
"""
import hashlib
import hmac

from django.conf import settings

HEAD_PURPOSE = "audit-chain-head"


def _base_keys() -> list[bytes]:
    """The signing key first, then the keys that still verify (SECRET_KEY_FALLBACKS during a rotation)."""
    if settings.PLAYBOOK_AUDIT_KEY:
        return [settings.PLAYBOOK_AUDIT_KEY.encode()]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [hashlib.sha256(b"playbook.audit-key\x00" + secret.encode()).digest() for secret in secrets]


def _mac(key: bytes, purpose: str, message: bytes) -> str:
    # One key, a separate derived key per purpose: a head signature never verifies as a manifest's.
    purpose_key = hmac.new(key, purpose.encode(), hashlib.sha256).digest()
    return hmac.new(purpose_key, message, hashlib.sha256).hexdigest()


def sign(message: bytes, *, purpose: str) -> str:
    return _mac(_base_keys()[0], purpose, message)


def signature_ok(message: bytes, signature: str, *, purpose: str) -> bool:
    return any(hmac.compare_digest(_mac(key, purpose, message), signature or "") for key in _base_keys())


def head_message(seq: int, last_hash: str) -> bytes:
    return f"{seq}:{last_hash}".encode()


def head_signature(seq: int, last_hash: str) -> str:
    return sign(head_message(seq, last_hash), purpose=HEAD_PURPOSE)


def head_signature_ok(seq: int, last_hash: str, signature: str) -> bool:
    return signature_ok(head_message(seq, last_hash), signature, purpose=HEAD_PURPOSE)
