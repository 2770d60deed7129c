"""Connections to PostgreSQL, and the one place psycopg's errors become ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from ioc.errors import Conflict, InvalidPayload, IOCError, StorageUnavailable

#: Rows come back as plain tuples; column types are the queries' business.
Connection = psycopg.Connection[tuple[Any, ...]]

#: Transaction outcomes that succeed when simply tried again.
RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


class RetryableConflict(IOCError):
    """A deadlock or serialization failure: run the same transaction again."""


@contextmanager
def translated() -> Iterator[None]:
    """Map psycopg errors to the IOC's own, most specific first."""
    try:
        yield
    except RETRYABLE as exc:
        raise RetryableConflict(str(exc)) from exc
    except pg_errors.UniqueViolation as exc:
        raise Conflict(str(exc.diag.message_primary or exc)) from exc
    except psycopg.DataError as exc:  # SQLSTATE class 22: the values themselves are wrong
        raise InvalidPayload(str(exc.diag.message_primary or exc)) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError, pg_errors.AdminShutdown) as exc:
        raise StorageUnavailable(str(exc).strip() or type(exc).__name__) from exc


def connect(url: str, *, autocommit: bool = False, application_name: str = "ioc") -> Connection:
    with translated():
        return psycopg.connect(
            url, autocommit=autocommit, application_name=application_name, connect_timeout=5
        )


def make_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, name: str = "ioc"
) -> ConnectionPool:
    """A pool that opens lazily: a service starts even when the database is not up yet."""
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        name=name,
        kwargs={"application_name": name, "connect_timeout": 5},
        check=ConnectionPool.check_connection,
    )
