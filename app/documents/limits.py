"""Limits on documents (QUERY_TOO_COMPLEX) and their variables (BAD_USER_INPUT); the parse and
validation cache.

Strawberry's limiters (depth, aliases, tokens) report plain validation and syntax errors; a
client should be able to tell "your document is too big" from "your document is wrong", so
these carry the code of the cost limit.

What a document costs before it runs is parsing (linear in its tokens) and validation, which
is linear in its field selections except for one rule: fields that land at the same place of
the response (same response path, through fragments too) are compared pair by pair to check
they can be merged, so ``{ me { id } me { id } … }`` costs the square of its repeats (1,200 of
them took ~2 s). Hence, in order, each refusal as cheap as it can be:

- over ``graphql_max_document_bytes``, or variables holding more than
  ``graphql_max_variable_values`` JSON values (coerced one by one before any resolver runs):
  refused before parsing;
- over ``graphql_max_tokens`` (``graphql_max_tokens_anonymous`` without a token): parsing
  stops there;
- over ``graphql_max_selections``: refused before validating. Selections (fields, fragment
  spreads, directives, variable definitions) are counted with fragments expanded where they
  are spread (a fragment spread twice counts twice, however deep the spreading goes), and a
  field selected k times at one response path counts k², which is what validation pays for
  it. A document without repeats weighs about its number of fields.

Parse results (documents and errors) and validation results are cached per process by text.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    parse,
)
from strawberry.extensions import SchemaExtension, max_aliases, query_depth_limiter
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType as StrawberryOperationType

from app.platform.errors import ErrorCode

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
    """The document limits and caches of one schema (made once: the cache lives in it).

    Every refusal is told before the step it spares: bytes and variables before parsing,
    tokens while parsing (its cost stops there), selections before validating. Callers
    without a token get tighter bounds (``anonymous``). A document not seen before and larger
    than ``off_loop_chars`` is parsed and validated in one worker thread shared by the
    process, so the event loop keeps answering while it is: one such document at a time, the
    others waiting for it rather than the loop.
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        max_tokens: int,
        max_tokens_anonymous: int,
        max_selections: int,
        max_variable_values: int,
        max_variable_values_anonymous: int,
        max_variable_characters_anonymous: int,
        cache_size: int,
        off_loop_chars: int = 1000,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.max_tokens_anonymous = max_tokens_anonymous
        self.max_selections = max_selections
        self.max_variable_values = max_variable_values
        self.max_variable_values_anonymous = max_variable_values_anonymous
        self.max_variable_characters_anonymous = max_variable_characters_anonymous
        self.cache_size = cache_size
        self.off_loop_chars = off_loop_chars
        self._cache: OrderedDict[tuple[str, int], _Prepared] = OrderedDict()

    def tokens_for(self, *, anonymous: bool) -> int:
        return self.max_tokens_anonymous if anonymous else self.max_tokens

    def too_large(self, query: str) -> GraphQLError | None:
        # Characters first: a str of n characters holds at least n bytes of UTF-8.
        if len(query) > self.max_bytes or len(query.encode()) > self.max_bytes:
            return _too_complex(f"The document is larger than {self.max_bytes} bytes.")
        return None

    def too_many_variables(self, variables: object, *, anonymous: bool) -> GraphQLError | None:
        """Variables are coerced before any resolver runs, in time linear in their values."""
        if not variables:
            return None
        most = self.max_variable_values_anonymous if anonymous else self.max_variable_values
        values, characters = variables_size(variables, most)
        if values > most:
            return _bad_input(f"The variables hold more than {most} values.")
        if anonymous and characters > self.max_variable_characters_anonymous:
            return _bad_input(
                f"The variables hold more than {self.max_variable_characters_anonymous} "
                "characters; sign in to send more."
            )
        return None

    def parse_now(self, query: str, max_tokens: int) -> _Prepared:
        """Parses on the calling thread, through the cache."""
        prepared = self._cached(query, max_tokens)
        if prepared is None:
            prepared = self._store(query, max_tokens, _parse(query, max_tokens))
        return prepared

    async def parse(self, query: str, max_tokens: int) -> _Prepared:
        prepared = self._cached(query, max_tokens)
        if prepared is None:
            parsed = await self._run(len(query), _parse, query, max_tokens)
            prepared = self._store(query, max_tokens, parsed)
        return prepared

    async def validate(
        self,
        prepared: _Prepared,
        schema: GraphQLSchema,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        assert prepared.document is not None
        key = (id(schema), rules)
        errors = prepared.validated.get(key)
        if errors is None:
            errors = await self._run(
                len(prepared.query), self._validate, schema, prepared.document, rules
            )
            prepared.validated[key] = errors
        return errors

    async def _run(self, chars: int, function: Callable[..., _T], *args: Any) -> _T:
        if chars <= self.off_loop_chars:
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(_WORKER, function, *args)

    def _cached(self, query: str, max_tokens: int) -> _Prepared | None:
        prepared = self._cache.get((query, max_tokens))
        if prepared is not None:
            self._cache.move_to_end((query, max_tokens))
        return prepared

    def _store(self, query: str, max_tokens: int, parsed: DocumentNode | GraphQLError) -> _Prepared:
        prepared = (
            _Prepared(query, None, _with_code(parsed) if _too_many_tokens(parsed) else parsed)
            if isinstance(parsed, GraphQLError)
            else _Prepared(query, parsed, None)
        )
        self._cache[(query, max_tokens)] = prepared
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return prepared

    def _validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        if selection_weight(document, self.max_selections) > self.max_selections:
            return [
                _too_complex(
                    f"The document selects more than {self.max_selections} fields "
                    "(fragments expanded; a field repeated k times at one place counts k²)."
                )
            ]
        return validate_document(schema, document, rules)


_T = TypeVar("_T")
# One thread for every gate of the process: large new documents are parsed one at a time.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-documents")


@dataclass
class _Prepared:
    """A document text parsed (or the error it parsed to) and its validations so far."""

    query: str
    document: DocumentNode | None
    error: GraphQLError | None
    validated: dict[tuple[int, tuple[type[ASTValidationRule], ...]], list[GraphQLError]] = field(
        default_factory=dict
    )


def _parse(query: str, max_tokens: int) -> DocumentNode | GraphQLError:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError as error:
        return error


def _too_many_tokens(error: GraphQLError) -> bool:
    return error.message.startswith("Syntax Error: Document contains more than")


class DocumentLimits(SchemaExtension):
    """Parses and validates documents through the gate, refusing those over its limits.

    Replaces strawberry's ParserCache, ValidationCache and MaxTokensLimiter. A refused
    document ends the operation with its error alone, over HTTP and WebSocket alike, without
    raising from the hook (strawberry's streaming path would not report it): the operation
    gets the error as a pre-execution error and a stand-in document of one operation of the
    requested name, which is neither validated nor executed.
    """

    def __init__(self, gate: DocumentGate) -> None:
        self.gate = gate
        self.prepared: _Prepared | None = None

    async def on_parse(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            anonymous = getattr(context.context, "viewer", None) is None
            refusal = self.gate.too_large(context.query) or self.gate.too_many_variables(
                context.variables, anonymous=anonymous
            )
            if refusal is None:
                tokens = self.gate.tokens_for(anonymous=anonymous)
                self.prepared = await self.gate.parse(context.query, tokens)
                refusal = self.prepared.error
                context.graphql_document = self.prepared.document
            if refusal is not None:
                context.pre_execution_errors = [refusal]
                context.graphql_document = _stand_in(
                    context.operation_name, context.allowed_operations
                )
        yield

    async def on_validate(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context
        if self.prepared is not None and self.prepared.document is not None:
            context.pre_execution_errors = await self.gate.validate(
                self.prepared, context.schema._schema, context.validation_rules
            )
        yield


def _stand_in(name: str | None, allowed: Iterable[StrawberryOperationType]) -> DocumentNode:
    allowed = set(allowed)
    kind = (
        StrawberryOperationType.QUERY
        if StrawberryOperationType.QUERY in allowed or not allowed
        else next(iter(allowed))
    )
    operation = OperationDefinitionNode(
        operation=OperationType(kind.value),
        name=NameNode(value=name) if name else None,
        variable_definitions=(),
        directives=(),
        selection_set=SelectionSetNode(
            selections=(FieldNode(name=NameNode(value="__typename"), arguments=(), directives=()),)
        ),
    )
    return DocumentNode(definitions=(operation,))


def variables_size(variables: object, most_values: int) -> tuple[int, int]:
    """JSON values in ``variables`` (every scalar, list and object, the outer one aside) and
    characters of their strings and keys. Stops counting once past ``most_values``."""
    values = characters = 0
    pending: list[object] = [variables]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            characters += len(value)
        elif isinstance(value, (dict, list)):
            values += len(value)
            if values > most_values:
                break
            if isinstance(value, dict):
                characters += sum(len(key) for key in value)
                pending.extend(value.values())
            else:
                pending.extend(value)
    return values, characters


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


def _bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.BAD_USER_INPUT.value})
