"""One JSON error shape for every failure: ``{"error": {"status", "code", "message"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from safertogether.errors import (
    AccessDeniedError,
    AuthenticationError,
    BadRequestError,
    MissingDataError,
    NotFoundError,
    PersonDataUnavailableError,
    SaferError,
    TooManyAttemptsError,
    WarehouseBusyError,
)

log = logging.getLogger(__name__)

_STATUS: dict[type[SaferError], tuple[int, str]] = {
    BadRequestError: (400, "bad_request"),
    NotFoundError: (404, "not_found"),
    MissingDataError: (404, "missing_data"),
    WarehouseBusyError: (503, "busy"),
    AuthenticationError: (401, "not_signed_in"),
    TooManyAttemptsError: (429, "too_many_attempts"),
    AccessDeniedError: (403, "forbidden"),
    PersonDataUnavailableError: (404, "person_data_unavailable"),
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status_code=status)


def _safer_error(_request: Request, exc: Exception) -> JSONResponse:
    for kind, (status, code) in _STATUS.items():
        if isinstance(exc, kind):
            response = error_response(status, code, str(exc))
            if isinstance(exc, TooManyAttemptsError):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
    return error_response(400, "bad_request", str(exc))


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = [f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'request'}: {e.get('msg')}" for e in errors]
    return error_response(422, "invalid_parameter", "; ".join(parts) or "invalid request")


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "unexpected error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SaferError, _safer_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "Malformed parameter", "model": None},
    404: {"description": "Unknown area, or data not imported yet"},
    422: {"description": "Invalid parameter type or range"},
}
