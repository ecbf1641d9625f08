"""Error codes and the mapping of exceptions to GraphQL errors.

Expected failures of a mutation are `userErrors` in its payload. Everything else surfaces as a
top-level GraphQL error whose ``extensions.code`` says what happened. An exception we did not
expect is masked: the client sees INTERNAL_SERVER_ERROR and a trace id, the log line with the
same trace id has the traceback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from enum import Enum
from typing import Any

import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from app.platform.outage_logs import store_away

log = structlog.get_logger("parley.errors")


class ErrorCode(str, Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"


class AppError(Exception):
    """An error the client is meant to see, with its code and optional extensions."""

    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR
    default_message = "Something went wrong."

    def __init__(self, message: str | None = None, **extensions: Any) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.extensions = extensions


class ServiceUnavailable(AppError):
    """A store is away for a moment (Redis or PostgreSQL restarting): the client tries again
    shortly."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "Service unavailable, try again shortly."


class Unauthenticated(AppError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "You must be signed in."


class Forbidden(AppError):
    code = ErrorCode.FORBIDDEN
    default_message = "You are not allowed to do this."


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND
    default_message = "Not found."


class BadUserInput(AppError):
    code = ErrorCode.BAD_USER_INPUT
    default_message = "The input is not valid."


class CursorExpired(AppError):
    """A resume cursor older than what is kept: the client refetches its state instead."""

    code = ErrorCode.CURSOR_EXPIRED
    default_message = "This cursor is older than the changes kept; refetch and start over."


class RateLimited(AppError):
    code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message, retryAfter=max(1, round(retry_after + 0.499)))
        self.retry_after = retry_after


def _cause(error: GraphQLError) -> BaseException | None:
    """The exception behind ``error``, None for graphql-core's and strawberry's own reports.
    graphql-core 3.3 wraps what it reports (a variable refused, a value a scalar refused) in
    one more GraphQLError, so the chain is walked to its end."""
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError):
        cause = cause.original_error
    return cause


def _is_bad_argument(error: GraphQLError) -> bool:
    """An argument value refused while a field ran. Validation refuses nearly all of them
    first; what is left (a null through a variable, a value a scalar refuses) reads
    "Argument 'x' ..." or is strawberry's coercion error. graphql-core's other reports from a
    running field (a resolver returning a non-list for a list, a value a scalar cannot
    serialize) are the server's fault."""
    chain: list[GraphQLError] = [error]
    while isinstance(chain[-1].original_error, GraphQLError):
        chain.append(chain[-1].original_error)
    return any(
        isinstance(e, StrawberryInputCoercionError) or e.message.startswith("Argument '")
        for e in chain
    )


def classify(error: GraphQLError) -> GraphQLError:
    """Return ``error`` with ``extensions.code`` set, masked when it is not ours to show.

    Reports of graphql-core and strawberry are the client's mistakes: a syntax error; a
    validation error (made before execution: no path, no cause); a variable value refused
    (graphql-core 3.3 wraps the coercion error: no path, a GraphQLError as its cause); an
    argument refused while a field ran. Anything else with an exception behind it, or
    graphql-core's report of a resolver's wrong value, is unexpected.
    """
    extensions = dict(error.extensions or {})
    cause = _cause(error)
    if isinstance(cause, AppError):
        extensions.update(cause.extensions)
        extensions["code"] = cause.code.value
        return _copy(error, error.message, extensions)
    if "code" in extensions:
        return error
    if cause is None:
        code: ErrorCode | None = None
        if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
            code = ErrorCode.GRAPHQL_PARSE_FAILED
        elif error.path is None and error.original_error is None:
            code = ErrorCode.GRAPHQL_VALIDATION_FAILED
        elif error.path is None or _is_bad_argument(error):
            code = ErrorCode.BAD_USER_INPUT
        if code is not None:
            extensions["code"] = code.value
            return _copy(error, error.message, extensions)

    if (away := store_away(cause)) is not None:
        # Redis or PostgreSQL restarting: the client asks again shortly; one line, no traceback.
        store, store_error = away
        log.warning(
            f"{store}_unavailable",
            path=".".join(str(p) for p in error.path or ()),
            error=type(store_error).__name__,
        )
        extensions["code"] = ErrorCode.SERVICE_UNAVAILABLE.value
        return _copy(error, ServiceUnavailable.default_message, extensions, keep_original=False)
    trace_id = uuid.uuid4().hex
    log.error(
        "unhandled_error",
        trace_id=trace_id,
        path=".".join(str(p) for p in error.path or ()),
        exc_info=error.original_error or error,
    )
    return _copy(
        error,
        "Internal server error.",
        {"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "traceId": trace_id},
        keep_original=False,
    )


def _copy(
    error: GraphQLError,
    message: str,
    extensions: dict[str, Any],
    keep_original: bool = True,
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error if keep_original else None,
        extensions=extensions,
    )


class ErrorCodesExtension(SchemaExtension):
    """Give every error a code and mask the unexpected ones (queries, mutations, events)."""

    def on_operation(self) -> Iterator[None]:
        yield
        # Strawberry hands the result's errors over as `pre_execution_errors` too: each error
        # is classified (and logged, with the trace id the client gets) once.
        classified: dict[int, GraphQLError] = {}

        def once(error: GraphQLError) -> GraphQLError:
            if id(error) not in classified:
                classified[id(error)] = classify(error)
            return classified[id(error)]

        result = self.execution_context.result
        if (
            isinstance(result, (GraphQLExecutionResult, StrawberryExecutionResult))
            and result.errors
        ):
            result.errors = [once(e) for e in result.errors]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [once(e) for e in pre]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Each event of a subscription (and each streamed result) gets the same treatment.
        if getattr(result, "errors", None):
            result.errors = [classify(e) for e in result.errors]
        yield None
