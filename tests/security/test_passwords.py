"""The password policy, rule by rule, and argon2id hashing."""

from __future__ import annotations

import pytest

from ioc.security import passwords
from ioc.security.passwords import WeakPassword, check_policy


@pytest.mark.parametrize(
    ("login", "password", "why"),
    [
        ("an", "short pw 1", "at least 12"),
        ("an", "x" * 257, "at most 256"),
        ("an.nguyen", "my name is AN.NGUYEN ok", "login"),
        ("an.nguyen", "neyugn.na is reversed", "login"),
        ("an", "password1234", "known"),
        ("an", "Password123!", "known"),
        ("bo", "please-change-me-now", "known"),
        ("an", "aaaaaaaaaaaaaaa", "one character"),
    ],
)
def test_policy_refuses(login: str, password: str, why: str) -> None:
    with pytest.raises(WeakPassword, match=why):
        check_policy(login, password)


@pytest.mark.parametrize("password", ["correct horse battery", "Ha Noi 2026 flood desk"])
def test_policy_accepts(password: str) -> None:
    check_policy("an.nguyen", password)


def test_hash_is_argon2id_and_verifies() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterY")
    assert not passwords.verify("not a hash", "correct horse battery")
    assert not passwords.needs_rehash(stored)
