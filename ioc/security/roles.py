"""Roles and what each may do.

``viewer < operator < admin`` is a ladder; ``goc`` (the upstream Government Operations
Center) stands beside it and may only pull its report. An admin may do everything.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    GOC = "goc"


#: required role → the roles that satisfy it
_SATISFIED_BY: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER, Role.OPERATOR, Role.ADMIN}),
    Role.OPERATOR: frozenset({Role.OPERATOR, Role.ADMIN}),
    Role.ADMIN: frozenset({Role.ADMIN}),
    Role.GOC: frozenset({Role.GOC, Role.ADMIN}),
}


def permits(held: Role, required: Role) -> bool:
    return held in _SATISFIED_BY[required]
