"""Person passwords: the policy a new one must meet, and argon2id hashing.

Policy (said once here, quoted by the README and the ``users`` command):

- at least :data:`MIN_LENGTH` (12) and at most :data:`MAX_LENGTH` (256) characters;
- not containing the login (in any case), and not the login reversed;
- not a known placeholder or common password (:data:`KNOWN_BAD`), nor one character
  repeated.

Hashes are argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile); a
hash made with older parameters is replaced at the next sign-in
(:func:`needs_rehash`). Checking a login that does not exist still costs one hash
(:func:`verify_nothing`), so timing does not tell which logins exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ioc.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256

#: Placeholders from docs and examples, and the passwords every list of leaked ones starts with.
KNOWN_BAD = frozenset(
    {
        "change-me",
        "changeme",
        "change_me",
        "password",
        "passw0rd",
        "password123",
        "password1234",
        "administrator",
        "letmein",
        "welcome",
        "qwerty",
        "qwertyuiop",
        "123456789012",
        "1234567890123",
        "iloveyou",
        "admin",
        "ioc-admin",
        "operator",
    }
)

_PLACEHOLDERS = ("change-me", "changeme", "change_me")

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("a password nobody has: timing equaliser")


class WeakPassword(InvalidInput):
    """A new password breaks the policy; the message says which rule."""


def check_policy(login: str, password: str) -> None:
    """Raise :class:`WeakPassword` naming the first rule ``password`` breaks."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    folded, who = password.casefold(), login.casefold()
    if who and (who in folded or who[::-1] in folded):
        raise WeakPassword("a password must not contain the login")
    stripped = folded.strip(" 0123456789!.-_")
    if folded in KNOWN_BAD or stripped in KNOWN_BAD or any(m in folded for m in _PLACEHOLDERS):
        raise WeakPassword("that password is a known placeholder or common password")
    if len(set(password)) == 1:
        raise WeakPassword("a password must not be one character repeated")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_nothing(password: str) -> None:
    """Spend what a real check costs, for a login that does not exist."""
    verify(_DUMMY, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
