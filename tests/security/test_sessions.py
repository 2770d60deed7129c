"""Sign-in makes a server-side session: the cookie holds its token (never a key or a
password), has the right flags, and stops working at sign-out, at expiry, and when
the person is disabled."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from ioc.security import users
from ioc.security.keys import create_key
from ioc.security.roles import Role
from tests.security.conftest import FORM, Person, sign_in


def test_password_sign_in_lands_on_the_wall_with_a_session_cookie(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    who = person(Role.VIEWER)
    r = app_client.post(
        "/ui/login",
        data={"login": who.login, "password": who.password},
        headers=FORM,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    cookie = r.headers["set-cookie"]
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/ui" in flags
    assert any(f.startswith("max-age=") for f in flags)
    assert "secure" not in flags  # plain HTTP here; Secure is set over HTTPS
    assert who.password not in cookie and who.login not in cookie


def test_sign_in_returns_to_the_page_it_came_from_and_never_elsewhere(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    who = person(Role.VIEWER)
    for asked, landed in [
        ("/ui/security", "/ui/security"),
        ("//evil.example/ui/", "/ui/"),
        ("https://evil.example/", "/ui/"),
    ]:
        r = app_client.post(
            "/ui/login",
            data={"login": who.login, "password": who.password, "next": asked},
            headers=FORM,
            follow_redirects=False,
        )
        assert r.headers["location"] == landed


def test_the_cookie_never_holds_the_key(
    app_client: TestClient, database_url: str, unique: Callable[[str], str]
) -> None:
    with psycopg.connect(database_url) as conn:
        key, _ = create_key(conn, Role.VIEWER, unique("wall display"))
    r = app_client.post("/ui/login", data={"key": key}, headers=FORM, follow_redirects=False)
    assert r.status_code == 303
    assert key not in r.headers["set-cookie"]
    token = app_client.cookies["ioc_session"]
    assert token and token not in key and key.split("_")[2] not in token
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT token_hash FROM sessions").fetchall()
    assert all(token not in row[0] and key not in row[0] for row in stored)


def test_wrong_password_is_refused_with_the_form(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    who = person(Role.VIEWER)
    r = app_client.post(
        "/ui/login", data={"login": who.login, "password": "not the password"}, headers=FORM
    )
    assert r.status_code == 401 and "wrong login or password" in r.text
    assert "ioc_session" not in r.headers.get("set-cookie", "")


def test_sign_out_revokes_the_session(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    who = person(Role.VIEWER)
    token = sign_in(app_client, who)
    assert app_client.get("/ui/logout").status_code == 200  # a form, not a state change
    r = app_client.post("/ui/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    # The old cookie, replayed as a copy would be, no longer opens a page.
    app_client.cookies.set("ioc_session", token, path="/ui")
    again = app_client.get("/ui/security", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/ui/login?next=")


def test_expired_and_disabled_sessions_send_the_browser_to_sign_in(
    app_client: TestClient, database_url: str, person: Callable[..., Person]
) -> None:
    admin = person(Role.ADMIN)
    sign_in(app_client, admin)
    assert app_client.get("/ui/security").status_code == 200
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE sessions SET expires_at = now() - interval '1 s'"
            " WHERE user_id = (SELECT id FROM users WHERE login = %s)",
            (admin.login,),
        )
    r = app_client.get("/ui/security?event=csrf.refused", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=%2Fui%2Fsecurity%3Fevent%3Dcsrf.refused"

    sign_in(app_client, admin)
    with psycopg.connect(database_url) as conn:
        users.disable(conn, admin.login)
    assert app_client.get("/ui/security", follow_redirects=False).status_code == 303
    refused = app_client.post(
        "/ui/login",
        data={"login": admin.login, "password": admin.password},
        headers=FORM,
    )
    assert refused.status_code == 401


def test_a_sign_in_forgets_sessions_that_ended_long_ago(
    app_client: TestClient, database_url: str, person: Callable[..., Person]
) -> None:
    """The sessions table stays bounded: ended more than 30 days ago, a session is gone
    after the next sign-in; a recent one is kept (its revocation still shows)."""
    someone = person(Role.VIEWER)
    sign_in(app_client, someone)
    sign_in(app_client, someone)
    with psycopg.connect(database_url) as conn:
        ended = conn.execute(
            "UPDATE sessions SET expires_at = now() - interval '31 days'"
            " WHERE ctid = (SELECT ctid FROM sessions WHERE user_id ="
            " (SELECT id FROM users WHERE login = %s) LIMIT 1) RETURNING token_hash",
            (someone.login,),
        ).fetchone()
        assert ended is not None
    sign_in(app_client, someone)
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT token_hash FROM sessions WHERE user_id ="
            " (SELECT id FROM users WHERE login = %s)",
            (someone.login,),
        ).fetchall()
    assert ended not in left
    assert len(left) == 2
