"""What the console's page modules share: form parsing, list paging, whether a person
may act (the role guards that read the sign-in cookie are :mod:`ioc.api.deps`')."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from fastapi import Request

from ioc.api.deps import Principal
from ioc.security.roles import Role, permits

PAGE_SIZE = 50


def can_act(who: Principal) -> bool:
    """Whether the page shows action controls: operators and admins, never viewers."""
    return permits(who.role, Role.OPERATOR)


async def form_of(request: Request) -> dict[str, list[str]]:
    return parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)


def unconfirmed(form: dict[str, list[str]]) -> bool:
    """A destructive action from one of our forms not yet confirmed: the form carries
    ``confirm`` (set to ``yes`` by the page's dialog); without script the server asks
    with a confirm page. A post without the field (a script, a test) is taken as meant."""
    return "confirm" in form and form["confirm"][0] != "yes"


def note_of(form: dict[str, list[str]]) -> str | None:
    note = (form.get("note") or [""])[0].strip()[:2000]
    return note or None


@dataclass(frozen=True, slots=True)
class Paging:
    """Where a list page is, and the links to its neighbours (filters kept)."""

    offset: int
    total: int
    base: str
    query: dict[str, str]

    def link(self, offset: int) -> str:
        return self.base + "?" + urlencode({**self.query, "offset": str(max(offset, 0))})

    @property
    def previous(self) -> str | None:
        return self.link(self.offset - PAGE_SIZE) if self.offset > 0 else None

    @property
    def next(self) -> str | None:
        return self.link(self.offset + PAGE_SIZE) if self.offset + PAGE_SIZE < self.total else None

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + PAGE_SIZE, self.total)


def filters_of(**values: str | None) -> dict[str, str]:
    """The non-empty filters, as kept in the URL."""
    return {k: v for k, v in values.items() if v}
