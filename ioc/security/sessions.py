"""Sign-in sessions for the pages: the one owner of the ``sessions`` table.

The browser's cookie holds only a random session token (256 bits); the table keeps its
SHA-256, never the token, nor the person's password or the API key that signed in. A
session belongs to a person or to an API key (``/ui/login`` still takes a key), and
is valid until it expires, is revoked (sign-out), or its person is disabled / its key
revoked — all checked on every request, so each takes effect at once.

The CSRF token of a session is derived from its token (:func:`csrf_token`): a page
can show it, a page on another origin can neither read the cookie nor compute it, and
no second secret has to be shared between API replicas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ioc.errors import Unauthorized
from ioc.security.keys import ApiKey, row_to_key
from ioc.security.users import User, row_to_user
from ioc.storage.db import Connection

#: Length of the random part of a session token, in bytes.
TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    """A live session and whom it speaks for: exactly one of ``user`` and ``key``."""

    expires_at: datetime
    user: User | None
    key: ApiKey | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token that goes with a session token (one-way: it never reveals it)."""
    digest = hashlib.sha256(b"ioc-csrf\x00" + token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_matches(token: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(token), presented)


def open_session(
    conn: Connection,
    *,
    ttl: timedelta,
    user: User | None = None,
    key: ApiKey | None = None,
    remote: str | None = None,
) -> str:
    """Store a new session; return its token (for the cookie, never stored)."""
    if (user is None) == (key is None):
        raise ValueError("a session speaks for exactly one person or key")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, key_id, expires_at, remote)"
        " VALUES (%s, %s, %s, now() + %s, %s)",
        (_hash(token), user.id if user else None, key.id if key else None, ttl, remote),
    )
    return token


_USER = "u.id, u.login, u.name, u.role, u.district, u.created_at, u.disabled_at"
_KEY = "k.id, k.prefix, k.role, k.name, k.created_at, k.revoked_at, k.district"


def resolve(conn: Connection, token: str) -> Session:
    """The live session with this token, or :class:`Unauthorized`."""
    if not token or len(token) > 128:
        raise Unauthorized("no session")
    row = conn.execute(
        f"SELECT s.expires_at, {_USER}, {_KEY} FROM sessions s"
        " LEFT JOIN users u ON u.id = s.user_id"
        " LEFT JOIN api_keys k ON k.id = s.key_id"
        " WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now()"
        " AND (u.id IS NULL OR u.disabled_at IS NULL)"
        " AND (k.id IS NULL OR k.revoked_at IS NULL)",
        (_hash(token),),
    ).fetchone()
    if row is None:
        raise Unauthorized("the session has ended: sign in again")
    user = None if row[1] is None else row_to_user(row[1:8])
    key = None if row[8] is None else row_to_key(row[8:15])
    return Session(expires_at=row[0], user=user, key=key)


def revoke(conn: Connection, token: str) -> bool:
    """End the session (sign-out); False when it had ended already."""
    done = conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = %s AND revoked_at IS NULL",
        (_hash(token),),
    )
    return done.rowcount > 0


def revoke_user(conn: Connection, user_id: int) -> int:
    """End every session of a person (password reset); how many ended."""
    done = conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
        (user_id,),
    )
    return done.rowcount


def purge(conn: Connection, older_than: timedelta = timedelta(days=30)) -> int:
    """Forget sessions that ended long ago."""
    done = conn.execute(
        "DELETE FROM sessions WHERE expires_at < now() - %s OR revoked_at < now() - %s",
        (older_than, older_than),
    )
    return done.rowcount


class SignInRequired(Unauthorized):
    """A page asked for without a live session: the browser is sent to sign in."""
