"""The password hasher: Argon2id at the parameters of the OWASP Password Storage Cheat Sheet's first
recommendation (19 MiB of memory, 2 passes, 1 lane).

Why not Django's default (PBKDF2-SHA256, 1,000,000 iterations): it costs about 0.3 s of a core per sign-in on
our 2-core reference machine, and the load benchmark (bench/load, bench/RESULTS.md) showed a burst of sign-ins
taking both cores for seconds, so every page waited behind them. This Argon2id costs about 27 ms there, and
being memory-hard it is the stronger of the two against the GPU and ASIC guessing that an attacker who steals
the hashes would use, which is what a password hash is for.

Stored PBKDF2 hashes still verify (settings.PASSWORD_HASHERS keeps PBKDF2 after this one) and are rewritten as
Argon2id the next time their owner signs in; so are Argon2 hashes with other parameters.
"""
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's Argon2 hasher: its hashes carry their own parameters, and a hash made with
    # other parameters is recognised and upgraded on sign-in (must_update compares them).
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
