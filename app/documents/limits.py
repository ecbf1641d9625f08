"""Limits on documents, all reported as QUERY_TOO_COMPLEX; the parse and validation caches.

Strawberry's limiters (depth, aliases, tokens) report plain validation and syntax errors; a
client should be able to tell "your document is too big" from "your document is wrong", so
these carry the code of the cost limit.

What a document costs before it runs is parsing (linear in its tokens) and validation, which
is linear in its field selections except for one rule: fields that land at the same place of
the response (same response path, through fragments too) are compared pair by pair to check
they can be merged, so ``{ me { id } me { id } … }`` costs the square of its repeats (1,200 of
them took ~2 s). Hence, in order, each refusal as cheap as it can be:

- over ``graphql_max_document_bytes``: refused before parsing;
- over ``graphql_max_tokens``: parsing stops there;
- over ``graphql_max_selections``: refused before validating. Selections (fields, fragment
  spreads, directives, variable definitions) are counted with fragments expanded where they
  are spread (a fragment spread twice counts twice, however deep the spreading goes), and a
  field selected k times at one response path counts k², which is what validation pays for
  it. A document without repeats weighs about its number of fields.

Parsed documents and validation results are cached per process by text and document.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    parse,
)
from strawberry.extensions import SchemaExtension, max_aliases, query_depth_limiter
from strawberry.schema.schema import validate_document

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


class DocumentGate:
    """The document limits and caches of one schema (made once: the caches live in it)."""

    def __init__(self, *, max_bytes: int, max_selections: int, cache_size: int) -> None:
        self.max_bytes = max_bytes
        self.max_selections = max_selections
        self.parse: Callable[..., DocumentNode] = lru_cache(maxsize=cache_size)(parse)
        self.validate: Callable[..., list[GraphQLError]] = lru_cache(maxsize=cache_size)(
            self._validate
        )

    def too_large(self, query: str) -> GraphQLError | None:
        # Characters first: a str of n characters holds at least n bytes of UTF-8.
        if len(query) > self.max_bytes or len(query.encode()) > self.max_bytes:
            return _too_complex(f"The document is larger than {self.max_bytes} bytes.")
        return None

    def _validate(
        self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ValidationRule], ...]
    ) -> list[GraphQLError]:
        if selection_weight(document, self.max_selections) > self.max_selections:
            return [
                _too_complex(
                    f"The document selects more than {self.max_selections} fields "
                    "(fragments expanded; a field repeated k times at one place counts k²)."
                )
            ]
        return validate_document(schema, document, rules)


class DocumentLimits(SchemaExtension):
    """Refuses a document over the byte limit before parsing it and one over the selection
    limit before validating it; parses and validates the others through the gate's caches.

    Replaces strawberry's ParserCache and ValidationCache. A document that does not parse is
    left to strawberry's own parse step, which reports the error like any other (with its
    code) instead of failing the whole operation from inside the hook.
    """

    def __init__(self, gate: DocumentGate) -> None:
        self.gate = gate

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            refusal = self.gate.too_large(context.query)
            if refusal is not None:
                # Raised before strawberry parses: the operation ends with this error alone.
                raise refusal
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.gate.parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            context.pre_execution_errors = self.gate.validate(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        yield


def selection_weight(document: DocumentNode, limit: int) -> int:
    """Field selections of every operation and fragment definition, fragments expanded where
    spread, a field selected k times at one response path counting k². Stops counting once
    past ``limit`` (the answer is then some number over it)."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    weigher = _Weigher(fragments, limit)
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                # Variables are validated one by one too (1,200 unused ones: ~100 ms).
                weigher.visit(len(definition.variable_definitions or ()))
            if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode)):
                weigher.add_root(definition.selection_set)
    except (_OverLimit, RecursionError):
        # RecursionError: nesting or a chain of fragments deeper than the interpreter's stack.
        return limit + 1
    return weigher.weight


class _OverLimit(Exception):
    pass


class _Weigher:
    """Walks selections with fragments expanded, giving up as soon as the selections walked or
    the weight pass the limit: the walk costs at most ``limit`` visits, however deep the
    spreading (expanded, it may be exponential in the document's size) or cyclic."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], limit: int) -> None:
        self.fragments = fragments
        self.limit = limit
        self.visits = 0
        self.weight = 0

    def add_root(self, selection_set: SelectionSetNode) -> None:
        paths: Counter[tuple[str, ...]] = Counter()
        self._walk(selection_set, (), paths, frozenset())
        self.weight += sum(times * times for times in paths.values())
        if self.weight > self.limit:
            raise _OverLimit

    def visit(self, count: int) -> None:
        self.visits += count
        if self.visits > self.limit:
            raise _OverLimit

    def _walk(
        self,
        selection_set: SelectionSetNode,
        path: tuple[str, ...],
        paths: Counter[tuple[str, ...]],
        spreading: frozenset[str],
    ) -> None:
        for selection in selection_set.selections:
            # Spreads count as visits too: fragments of nothing but spreads expand as well.
            self.visit(1 + len(selection.directives or ()))
            if isinstance(selection, FieldNode):
                name = selection.alias.value if selection.alias else selection.name.value
                field_path = (*path, name)
                paths[field_path] += 1
                if selection.selection_set is not None:
                    self._walk(selection.selection_set, field_path, paths, spreading)
            elif isinstance(selection, InlineFragmentNode):
                self._walk(selection.selection_set, path, paths, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                # A cycle is walked once round (validation refuses it anyway).
                if fragment is not None and name not in spreading:
                    self._walk(fragment.selection_set, path, paths, spreading | {name})


def _too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": _CODE})
