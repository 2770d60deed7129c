"""Person accounts: the one owner of the ``users`` table.

A person has a login (unique, any case), a name, one role and, for viewers and
operators, an optional district: such a person sees and acts on that district's
devices, alerts and incidents only. Admins and the GOC see everything, so they carry
no district (the table refuses one). Passwords follow :mod:`ioc.security.passwords`;
only their argon2id hash is stored. A disabled person cannot sign in and their open
sessions stop working at once (sessions check the account on every request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ioc.errors import Conflict, InvalidInput, NotFound, Unauthorized
from ioc.security import passwords
from ioc.security.roles import Role
from ioc.storage.db import Connection

LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")

#: Roles that may be limited to a district; the others see every district.
SCOPABLE = frozenset({Role.VIEWER, Role.OPERATOR})


@dataclass(frozen=True, slots=True)
class User:
    id: int
    login: str
    name: str
    role: Role
    district: str | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def label(self) -> str:
        """How the person appears in histories and the audit log: their login."""
        return self.login


COLUMNS = "id, login, name, role, district, created_at, disabled_at"


def row_to_user(r: tuple[object, ...]) -> User:
    """A ``users`` row (:data:`COLUMNS` order) as a :class:`User`."""
    return User(
        id=int(r[0]),  # type: ignore[call-overload]
        login=str(r[1]),
        name=str(r[2]),
        role=Role(str(r[3])),
        district=None if r[4] is None else str(r[4]),
        created_at=r[5],  # type: ignore[arg-type]
        disabled_at=r[6],  # type: ignore[arg-type]
    )


def check_login(login: str) -> str:
    """The login, lower-cased, or :class:`InvalidInput` saying what a login looks like."""
    folded = login.strip().lower()
    if not LOGIN_PATTERN.match(folded):
        raise InvalidInput(
            "a login is 2-64 characters: letters, digits, '.', '_', '@', '-',"
            " starting with a letter or digit"
        )
    return folded


def _check_scope(role: Role, district: str | None) -> None:
    if district is not None and role not in SCOPABLE:
        raise InvalidInput(
            f"{role.value} accounts see every district: only viewers and operators have one"
        )
    if district is not None and not 1 <= len(district) <= 100:
        raise InvalidInput("a district name is 1-100 characters")


def create_user(
    conn: Connection,
    login: str,
    password: str,
    role: Role,
    *,
    name: str = "",
    district: str | None = None,
) -> User:
    """Conflict when the login is taken; WeakPassword when the password breaks the policy."""
    login = check_login(login)
    _check_scope(role, district)
    passwords.check_policy(login, password)
    row = conn.execute(
        f"INSERT INTO users (login, name, role, district, password_hash)"
        f" VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING {COLUMNS}",
        (login, name, role.value, district, passwords.hash_password(password)),
    ).fetchone()
    if row is None:
        raise Conflict(f"the login {login!r} is taken")
    return row_to_user(row)


def ensure_user(conn: Connection, login: str, password: str, role: Role) -> bool:
    """Make the account exist (the bootstrap admin); False when it already did.

    An existing account keeps its password: the set-up never overwrites a password a
    person has changed since."""
    login = check_login(login)
    passwords.check_policy(login, password)
    row = conn.execute(
        "INSERT INTO users (login, name, role, password_hash) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING id",
        (login, "bootstrap administrator", role.value, passwords.hash_password(password)),
    ).fetchone()
    return row is not None


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(f"SELECT {COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return row_to_user(row)


def find(conn: Connection, login: str) -> User:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM users WHERE lower(login) = lower(%s)", (login.strip(),)
    ).fetchone()
    if row is None:
        raise NotFound(f"no user {login!r}")
    return row_to_user(row)


def list_users(conn: Connection) -> list[User]:
    return [row_to_user(r) for r in conn.execute(f"SELECT {COLUMNS} FROM users ORDER BY login")]


def authenticate(conn: Connection, login: str, password: str) -> User:
    """The enabled person with this login and password, or :class:`Unauthorized` (the
    same message whichever part was wrong). A hash with old parameters is renewed."""
    row = conn.execute(
        f"SELECT {COLUMNS}, password_hash FROM users WHERE lower(login) = lower(%s)",
        (login.strip()[:64],),
    ).fetchone()
    if row is None:
        passwords.verify_nothing(password)
        raise Unauthorized("wrong login or password")
    stored = str(row[7])
    if not passwords.verify(stored, password) or row[6] is not None:
        raise Unauthorized("wrong login or password")
    if passwords.needs_rehash(stored):
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s",
            (passwords.hash_password(password), row[0]),
        )
    return row_to_user(row)


def disable(conn: Connection, login: str) -> User:
    row = conn.execute(
        f"UPDATE users SET disabled_at = now() WHERE lower(login) = lower(%s)"
        f" AND disabled_at IS NULL RETURNING {COLUMNS}",
        (login,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no enabled user {login!r}")
    return row_to_user(row)


def set_password(conn: Connection, login: str, password: str) -> User:
    """A new password (under the policy); the person's sessions end with the old one."""
    user = find(conn, login)
    passwords.check_policy(user.login, password)
    conn.execute(
        "UPDATE users SET password_hash = %s, password_changed_at = now() WHERE id = %s",
        (passwords.hash_password(password), user.id),
    )
    return user


def bootstrap(conn: Connection, login: str | None, password: str | None) -> bool:
    """The first admin from the set-up (``IOC_BOOTSTRAP_ADMIN_LOGIN`` and ``_PASSWORD``):
    created once, never overwritten; False when not configured or already there."""
    if not login or not password:
        return False
    return ensure_user(conn, login, password, Role.ADMIN)
