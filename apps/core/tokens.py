"""Secret keys that are shown once and kept only as a digest (API tokens, client tokens).

A key is a random URL-safe string behind a short visible prefix (`pbt_`, `pbc_`), so a leaked key can be
recognised in a log or a paste. Only its SHA-256 digest is stored: a key has 256 bits of randomness, so a
fast unsalted hash is enough (nothing to brute-force), and it can be looked up by equality.
"""
import hashlib
import secrets


def token_digest(key: str) -> str:
    """The hex SHA-256 of a key: what the database stores and looks keys up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_generate(prefix: str) -> str:
    """A new key: `prefix` followed by 43 URL-safe characters (32 random bytes)."""
    return f"{prefix}{secrets.token_urlsafe(32)}"
