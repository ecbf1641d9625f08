"""Depth, alias and token limits (strawberry's), reported as QUERY_TOO_COMPLEX; the parse cache.

Strawberry's limiters report plain validation and syntax errors; a client should be able to
tell "your document is too big" from "your document is wrong", so these carry the code of the
cost limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, ValidationContext, ValidationRule
from strawberry.extensions import ParserCache, SchemaExtension, max_aliases, query_depth_limiter

from app.errors import ErrorCode

_CODE = ErrorCode.QUERY_TOO_COMPLEX.value


def depth_limit(max_depth: int) -> type[ValidationRule]:
    return _coded(query_depth_limiter.create_validator(max_depth, None))


def alias_limit(max_aliases_: int) -> type[ValidationRule]:
    return _coded(max_aliases.create_validator(max_aliases_))


def _coded(rule: type[ValidationRule]) -> type[ValidationRule]:
    # Both limiters do their whole check in __init__, reporting through the context.
    class Coded(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            rule(_CodedErrors(context))  # type: ignore[arg-type]

    Coded.__name__ = Coded.__qualname__ = rule.__name__
    return Coded


class _CodedErrors:
    def __init__(self, context: ValidationContext) -> None:
        self._context = context

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(_with_code(error))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class QueryTooComplexOnTokens(SchemaExtension):
    """Codes the syntax error graphql-core raises when a document has too many tokens."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        result = context.result
        if result is not None and result.errors:
            result.errors = [_recode(error) for error in result.errors]
        if context.pre_execution_errors:
            context.pre_execution_errors = [_recode(e) for e in context.pre_execution_errors]


def _recode(error: GraphQLError) -> GraphQLError:
    if error.message.startswith("Syntax Error: Document contains more than"):
        return _with_code(error)
    return error


def _with_code(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": _CODE},
    )


class ParserCacheKeepingErrors(ParserCache):
    """Strawberry's ParserCache, except that a document that does not parse is left to
    strawberry's own parse step, which reports the error like any other (with its code)
    instead of failing the whole operation from inside the hook."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield
