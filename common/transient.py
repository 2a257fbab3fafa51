"""Which failures are the infrastructure's (the database went away, failed over, timed out or made a
transaction lose a race) and which are the content's. An event that failed on infrastructure is waited
for, never dead-lettered; an RPC that failed on it is a 503 the caller may retry with its key.

The test is on the exception and the exceptions it was raised from (SQLAlchemy wraps the driver's)."""
from __future__ import annotations

import logging

import psycopg2
from psycopg2 import errors as pg_errors
from sqlalchemy import exc as sa_exc

# the name an RPC error of this kind travels under (nameko sends exc_type to the caller)
DATABASE_UNAVAILABLE = "DatabaseUnavailable"

_TRANSIENT = (
    sa_exc.DisconnectionError,  # pre-ping found the connection dead and could not make a new one
    sa_exc.TimeoutError,  # no connection free in the pool within its timeout
    psycopg2.OperationalError,  # refused, lost, "the database system is starting up", query or lock timeout
    psycopg2.InterfaceError,  # a connection already closed
    pg_errors.SerializationFailure,  # a transaction that lost a race: the same work succeeds when run again
    pg_errors.DeadlockDetected,
    pg_errors.AdminShutdown,  # a fast or immediate shutdown, a failover
    pg_errors.CannotConnectNow,
    pg_errors.ReadOnlySqlTransaction,  # a primary that became a standby in a failover
)


class DatabaseUnavailable(Exception):
    """Raised to an RPC caller in place of a transient database error (see common.rpc)."""


def is_transient(exc: BaseException | None) -> bool:
    """True when `exc`, or an exception it came from, is the infrastructure's (see the module's docstring)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _TRANSIENT):
            return True
        if isinstance(exc, sa_exc.DBAPIError) and (exc.connection_invalidated or is_transient(exc.orig)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _TransientWorkerErrors(logging.Filter):
    """Drops nameko's "error handling worker" record (a traceback per try) when the error is transient:
    the event handler and the RPC entrypoint log each outage once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and is_transient(record.exc_info[1]))


_FILTER = _TransientWorkerErrors()


def quiet_transient_worker_errors() -> None:
    logging.getLogger("nameko.containers").addFilter(_FILTER)  # the same filter object: added once
