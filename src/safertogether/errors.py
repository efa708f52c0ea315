"""Errors raised by Safer Together.

Every error says what went wrong and what to do next. Each also inherits the builtin a caller
would naturally catch::

    SaferError
     ├── InputFormatError(ValueError)   a file is not what it claims to be (wrong kind, binary, truncated)
     ├── NotFoundError(LookupError)     an area, force or crime that the warehouse does not hold
     ├── BadRequestError(ValueError)    a query parameter that cannot be answered as given
     ├── MissingDataError(LookupError)  the answer needs data no import has provided yet
     ├── AccessDeniedError(PermissionError)  no agreement, clearance or purpose lets this user see it
     ├── AuthenticationError(PermissionError)  not signed in: a wrong or unknown user, password, token or session
     ├── PersonDataUnavailableError(RuntimeError)  a server whose warehouse is read-only serves no person data
     ├── WarehouseBusyError(RuntimeError)  another process holds the warehouse file for writing
     ├── NewerWarehouseError(RuntimeError)  the file was written by a newer version of Safer Together
     ├── WarehouseUnavailableError(ConnectionError)  a warehouse server cannot be reached or its driver is absent
     ├── EngineUnavailableError(RuntimeError)  an engine this machine cannot run (Spark without Java or pyspark)
     └── AuditChainError(RuntimeError)  the audit log fails verification (edited, removed, inserted or reordered)
"""

from __future__ import annotations


class SaferError(Exception):
    """Root of all Safer Together errors."""


class InputFormatError(SaferError, ValueError):
    """A source file cannot be read as the kind of file it should be."""


class NotFoundError(SaferError, LookupError):
    """The requested thing is not in the warehouse."""


class BadRequestError(SaferError, ValueError):
    """A parameter is malformed or out of range."""


class MissingDataError(SaferError, LookupError):
    """The question needs data that has not been imported."""


class AccessDeniedError(SaferError, PermissionError):
    """The user may not see what they asked for (the reason says which rule; nothing of it is returned)."""


class AuthenticationError(SaferError, PermissionError):
    """Who is asking is not established: sign in, or send a valid API token (one message for every cause)."""


class TooManyAttemptsError(SaferError, PermissionError):
    """Too many failed attempts from one place: wait ``retry_after`` seconds before trying again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PersonDataUnavailableError(SaferError, RuntimeError):
    """The server opened its warehouse read-only, so it cannot audit reads and serves no person data."""


class WarehouseBusyError(SaferError, RuntimeError):
    """The warehouse file is locked by another process."""


class NewerWarehouseError(SaferError, RuntimeError):
    """The warehouse's schema is newer than this code reads."""


class WarehouseUnavailableError(SaferError, ConnectionError):
    """A warehouse server (PostgreSQL) cannot be reached, or the driver for it is not installed."""


class EngineUnavailableError(SaferError, RuntimeError):
    """The chosen engine cannot start here: what it needs is not installed."""


class AuditChainError(SaferError, RuntimeError):
    """The audit log's hash chain or its signed checkpoints do not verify."""
