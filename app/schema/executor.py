"""The executor class strawberry hands to graphql-core (``PARLEY_FAST_EXECUTOR``, on by default).

``ParleyExecutor`` answers exactly as strawberry's stock execution does (the same data, the
same errors at the same paths, the same null propagation) and departs from how it gets there
in eight ways. The first seven each showed in profiles of the inbox query (50 conversations,
~1,100 objects, ~3,900 fields); the eighth works around a leak.

1. **Plain leaf fields skip the resolver machinery** (``execute_fields``). A field without a
   resolver, arguments or field extensions (strawberry's "basic field": no permission classes
   either) whose type is a scalar or an enum is read with ``getattr`` and coerced right here,
   without a ``GraphQLResolveInfo``, a ``Path`` and strawberry's wrapper calls: most fields of
   an inbox page, and the largest single item of its profile. A ``str`` for String or ID and a
   ``bool`` for Boolean are taken as they are (their coercion returns them unchanged); an enum
   member is named from a table (strawberry's coercion scans the members). Anything unusual (a
   failing read, a null for a non-null field, a value that does not coerce) takes
   graphql-core's path, so errors read exactly as before.
2. **Plain object and list fields skip strawberry's resolver chain**
   (``_execute_plain_composite``). A basic field of an object or list type is read with
   ``getattr`` and completed as graphql-core would (see 3 and 5); a null, an awaitable or a
   failing read goes through ``execute_field``, and so do interfaces and unions (graphql-core
   picks the type).
3. **Lists of objects are completed without the per-item dispatch**
   (``_complete_plain_composite``). When every item is exactly the class strawberry made the
   item type from, the items' subfields are collected once and each item goes straight to
   ``execute_fields``: no iterable tests, no ``@stream`` lookup (a field with any directive
   takes graphql-core's path), no per-item awaitable test, ``complete_list_item_value`` or
   ``is_type_of``. Inside ``@defer`` (a position context) graphql-core completes them.
4. **Plain sync resolvers are called directly** (``_execute_plain_resolver``). A sync resolver
   with no field extensions (no permission classes), arguments of built-in scalar types only,
   in a schema without exception handlers, is called as strawberry would call it (the source
   as ``self``, ``root`` or ``parent``, strawberry's ``Info``, the arguments by Python name)
   without strawberry's chain of wrappers, argument conversion (none is needed for those
   types) and partials, which cost more than the inbox's resolvers themselves. Its arguments
   are coerced once per operation for each field in the document, not once per object
   (``Conversation.messages(last: 10)`` on each of 50 conversations).
5. **An object of its declared type goes straight to its subfields** (``complete_value``).
   graphql-core tests for errors, nulls, lists, leaves and abstract types first, then asks the
   type's ``is_type_of``: a few microseconds on each object. ``is_type_of`` is not asked when
   the value is exactly the class strawberry made the type from, where strawberry's own
   answers yes (Parley declares none of its own and uses no ``strawberry.cast``).
6. **Values that cannot be awaitable are not asked** (``_COMPLETED``, ``_plain_classes``):
   completed dicts, lists and scalars, and instances of the schema's classes that define no
   ``__await__``, ``__getattr__`` or ``__getattribute__``; graphql-core's ``is_awaitable``
   (a failing ``hasattr(value, "__await__")`` for each) decides for anything else.
7. **A complete operation lets go of its resolver helpers** (``build_response``). graphql-core's
   executor holds helpers that are its own bound methods: a reference cycle that kept each
   operation (context, loaders, every row read) alive until the cyclic collector ran, ~0.9 ms
   per inbox request. Once the result is complete (no deferred or streamed work left) they are
   swapped for module-level ones, and the operation is freed at once; a resolver's leftover
   task that still uses them after that is gathered and settled on its own, not tracked by an
   executor that has finished.
8. **Subscriptions get a fresh memo per event** (``build_per_event_executor``). graphql-core
   3.3.2 builds each subscription event's executor as a shallow copy of the subscription's
   executor, so every event shares one ``_relevant_sub_fields`` memo. The memo is keyed on
   ``id()`` of per-event lists, so it never hits across events and grows by ~1.6 KB per
   delivered event for as long as the subscription lives (+160 MB after 100,000 events). A
   fresh memo per event bounds it and is faster. Upstream report:
   docs/graphql-core-subscription-memo-leak.md.

With graphql-core middleware, 1-4 are off. ``PARLEY_FAST_EXECUTOR=false`` runs the stock
executor instead (all eight off), the way back should an upgrade break this one;
tests/system/test_executor_fence.py pins the graphql-core and strawberry members used here
(signatures, attributes, and the source of what 1-5 re-implement) so an upgrade that changes
them fails there, naming the member.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from enum import Enum
from types import CoroutineType, GeneratorType
from typing import Any

import strawberry
from graphql import (
    ExecutionResult,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLString,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.executor import Executor, to_nodes
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryMaybe, StrawberryOptional


@dataclass(frozen=True, slots=True)
class _PlainLeaf:
    attribute: str
    graphql_type: GraphQLLeafType
    non_null: bool
    # For a strawberry enum: each member's GraphQL name. Strawberry's own coercion scans
    # the values comparing `.value`s, a loop of property reads per enum field.
    enum_class: type[Enum] | None = None
    enum_names: dict[Any, str] | None = None
    # The Python class whose values the type's coercion returns unchanged (`str` for String
    # and ID, `bool` for Boolean): such a value is its own result, without the call.
    as_is: type | None = None


@dataclass(frozen=True, slots=True)
class _PlainComposite:
    """A basic field of an object or list type: read by attribute, completed by graphql-core
    (or, for an object type and a list of one, by ``_complete_plain_composite``)."""

    attribute: str
    field: GraphQLField
    # The object type of `T`, `T!`, `[T]`, `[T!]`, `[T]!` or `[T!]!` (None for anything else)
    # and whether the field is a list of it.
    object_type: GraphQLObjectType | None = None
    is_list: bool = False
    item_type: Any = None


@dataclass(frozen=True, slots=True)
class _PlainResolver:
    """A field with a sync resolver and nothing around it (no permission classes or other
    field extensions, no exception handlers, arguments of built-in scalar types only):
    called directly, as strawberry's resolver chain would call it."""

    field: GraphQLField
    definition: Any
    function: Any
    # (GraphQL name, Python name) of each argument: built-in scalars need no conversion.
    arguments: tuple[tuple[str, str], ...]
    pass_self: bool
    # Keyword parameters that take strawberry's Info, and the source (`root`/`parent`).
    info_parameter: str | None
    source_parameters: tuple[str, ...]


_PlainLeaves = dict[str, _PlainLeaf | _PlainComposite | _PlainResolver]
# Kept on the type itself: a lookup per object completed must cost no more than a dict read.
_ATTRIBUTE = "_parley_plain_leaves"


def _plain_leaves(parent_type: GraphQLObjectType, strawberry_schema: Any) -> _PlainLeaves:
    leaves: _PlainLeaves | None = parent_type.__dict__.get(_ATTRIBUTE)
    if leaves is None:
        leaves = {}
        for name, field in parent_type.fields.items():
            leaf = _plain_leaf(field, strawberry_schema)
            if leaf is not None:
                leaves[name] = leaf
        setattr(parent_type, _ATTRIBUTE, leaves)
    return leaves


def _plain_leaf(
    field: GraphQLField, strawberry_schema: Any
) -> _PlainLeaf | _PlainComposite | _PlainResolver | None:
    # Strawberry's "basic field": no resolver, and no field extensions, which is where
    # permission classes live; its resolver only reads the attribute of the same Python
    # name. (`resolve._is_default` alone is not enough: a field with permission classes
    # but no resolver has it too.)
    definition = field.extensions.get("strawberry-definition")
    if getattr(definition, "base_resolver", None) is not None:
        if strawberry_schema is None or strawberry_schema.exception_handlers:
            return None  # they wrap resolvers: with any, resolvers keep strawberry's chain
        return _plain_resolver(field, definition, strawberry_schema.config.name_converter)
    if (
        field.args
        or not getattr(definition, "is_basic_field", False)
        or getattr(definition, "default_resolver", None) is not getattr
        or not getattr(field.resolve, "_is_default", False)
    ):
        return None
    attribute = getattr(definition, "python_name", None)
    non_null = isinstance(field.type, GraphQLNonNull)
    type_ = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if attribute is None:
        return None
    if not is_leaf_type(type_):
        # Objects and lists of objects; an interface or union is resolved on graphql-core's
        # path, which knows how to pick the concrete type.
        named = get_named_type(type_)
        if is_abstract_type(named):
            return None
        object_type: GraphQLObjectType | None = None
        is_list = False
        item_type: Any = None
        if type(type_) is GraphQLObjectType:
            object_type = type_
        elif type(type_) is GraphQLList:
            item_type = type_.of_type
            inner = item_type.of_type if type(item_type) is GraphQLNonNull else item_type
            if type(inner) is GraphQLObjectType:
                object_type, is_list = inner, True
        return _PlainComposite(attribute, field, object_type, is_list, item_type)
    enum_class = getattr(type_, "wrapped_cls", None)
    if (
        isinstance(type_, GraphQLEnumType)
        and isinstance(enum_class, type)
        and issubclass(enum_class, Enum)
    ):
        names = {member: type_.coerce_output_value(member) for member in enum_class}
        return _PlainLeaf(attribute, type_, non_null, enum_class, names)
    return _PlainLeaf(
        attribute, type_, non_null, as_is=_AS_IS.get(type_.name) if type_ in _BUILT_IN else None
    )


def _plain_resolver(
    field: GraphQLField, definition: Any, name_converter: Any
) -> _PlainResolver | None:
    resolver = definition.base_resolver
    if definition.extensions or resolver.is_async or definition.is_subscription:
        return None
    arguments: list[tuple[str, str]] = []
    for argument in definition.arguments:
        type_ = argument.type
        if isinstance(type_, StrawberryOptional) and not isinstance(type_, StrawberryMaybe):
            type_ = type_.of_type
        if type_ not in _SCALAR_ARGUMENTS or argument.python_name is None:
            return None
        arguments.append((name_converter.from_argument(argument), argument.python_name))
    if {name for name, _ in arguments} != set(field.args):
        return None
    info = resolver.info_parameter
    return _PlainResolver(
        field,
        definition,
        resolver.wrapped_func,
        tuple(arguments),
        resolver.self_parameter is not None,
        info.name if info is not None else None,
        tuple(p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p),
    )


# Argument types strawberry hands to a resolver as graphql-core coerced them.
_SCALAR_ARGUMENTS: tuple[Any, ...] = (int, str, bool, float, strawberry.ID)
_Plan = list[tuple[str, Any, _PlainLeaf | _PlainComposite | _PlainResolver | None]]
# Completed values that are never awaitable: no need to ask.
_COMPLETED = frozenset({dict, list, str, int, float, bool, type(None)})


def _path(prev: Path | None, key: str | int, typename: str | None) -> Path:
    # What Path(prev, key, typename) builds, without the NamedTuple's Python-level __new__.
    return _new_tuple(Path, (prev, key, typename))  # type: ignore[no-any-return]


_new_tuple = tuple.__new__
_ANOTHER_WAY = object()
_BUILT_IN = (GraphQLString, GraphQLID, GraphQLBoolean)
_AS_IS: dict[str, type] = {"String": str, "ID": str, "Boolean": bool}


class ParleyExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[int, tuple[Any, GraphQLObjectType, _Plan]] = {}
        self._arguments: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._plain_classes = _plain_classes(self.schema)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Plan:
        """Each field of ``grouped_field_set`` with its plain leaf or composite, if any.

        graphql-core collects an object's subfields once per field of the query (it memoizes
        them), so the 500 messages of an inbox page share one grouped field set: its plan is
        worked out once, kept with the set so that its id cannot be reused meanwhile."""
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set and cached[1] is parent_type:
            return cached[2]
        middleware = self.middleware_manager
        plain = middleware is None or not middleware.middlewares
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        leaves = _plain_leaves(parent_type, strawberry_schema) if plain else {}
        plan: _Plan = [
            (response_name, details, leaves.get(details[0].node.name.value))
            for response_name, details in grouped_field_set.items()
        ]
        self._plans[id(grouped_field_set)] = (grouped_field_set, parent_type, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        # graphql-core's execute_fields, with plain leaf fields completed inline.
        plan = self._plan(parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, leaf in plan:
                if leaf.__class__ is _PlainLeaf:
                    # The common cases inline (a str/bool as it is, an enum member by
                    # table), the rest in _complete_plain_leaf: a call per field is a
                    # good part of the cost of ~3,000 leaves.
                    try:
                        value = getattr(source_value, leaf.attribute)  # type: ignore[union-attr]
                    except Exception:
                        value = Undefined
                    else:
                        kind = value.__class__
                        if kind is leaf.as_is:  # type: ignore[union-attr]
                            results[response_name] = value
                            continue
                        if kind is leaf.enum_class:  # type: ignore[union-attr]
                            results[response_name] = leaf.enum_names[value]  # type: ignore[union-attr,index]
                            continue
                        value = _complete_plain_leaf(leaf, value)  # type: ignore[arg-type]
                    if value is not Undefined:
                        results[response_name] = value
                        continue
                field_path = _path(path, response_name, parent_type.name)
                if leaf.__class__ is _PlainResolver:
                    result = self._execute_plain_resolver(
                        leaf,  # type: ignore[arg-type]
                        parent_type,
                        source_value,
                        field_details_list,
                        field_path,
                        position_context,
                    )
                elif leaf.__class__ is _PlainComposite:
                    result = self._execute_plain_composite(
                        leaf,  # type: ignore[arg-type]
                        parent_type,
                        source_value,
                        field_details_list,
                        field_path,
                        position_context,
                    )
                else:
                    result = self.execute_field(
                        parent_type, source_value, field_details_list, field_path, position_context
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if result.__class__ not in _COMPLETED and is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _execute_plain_resolver(
        self,
        plain: _PlainResolver,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field, calling the resolver as strawberry would (the
        source as `self`, `root` or `parent`; its Info; the arguments by Python name)
        without strawberry's chain of wrappers, argument conversion and partials, which
        cost more than the resolvers of an inbox page themselves."""
        field = plain.field
        return_type = field.type
        first = field_details_list[0]
        info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, path)
        try:
            kwargs: dict[str, Any] = {}
            if plain.arguments:
                # The same for every object completed under these field nodes (the same
                # AST arguments and variables): coerced once per operation, not once per
                # object (Conversation.messages(last: 10) on each of 50 conversations).
                cached = self._arguments.get(id(field_details_list))
                if cached is not None and cached[0] is field_details_list:
                    kwargs.update(cached[1])
                else:
                    values = get_argument_values(
                        field,
                        first.node,
                        self.variable_values,
                        first.fragment_variable_values,
                        self.hide_suggestions,
                    )
                    for name, python_name in plain.arguments:
                        if name in values:
                            kwargs[python_name] = values[name]
                    self._arguments[id(field_details_list)] = (field_details_list, dict(kwargs))
            for name in plain.source_parameters:
                kwargs[name] = source
            if plain.info_parameter is not None:
                kwargs[plain.info_parameter] = self._strawberry_info(info, plain.definition)
            result = (
                plain.function(source, **kwargs) if plain.pass_self else plain.function(**kwargs)
            )
            kind = result.__class__
            if (
                kind not in _COMPLETED
                and kind not in self._plain_classes
                and self.is_awaitable(result)
            ):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return self._settled(completed, return_type, field_details_list, path)

    def _settled(
        self, completed: Any, return_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        """A completed value as it is, or, if it is still to come, awaited with graphql-core's
        handling of a field's error."""
        if completed.__class__ in _COMPLETED or not self.is_awaitable(completed):
            return completed

        async def await_completed() -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, return_type, field_details_list, path)
                return None

        return await_completed()

    def _strawberry_info(self, info: Any, definition: Any) -> Any:
        info_class = self.__dict__.get("_info_class")
        if info_class is None:
            strawberry_schema = self.schema._strawberry_schema  # type: ignore[attr-defined]
            info_class = self._info_class = strawberry_schema.config.info_class
        return info_class(_raw_info=info, _field=definition)

    def _execute_plain_composite(
        self,
        plain: _PlainComposite,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field for an attribute read: the same completion and
        error handling, without strawberry's resolver chain. A null, an awaitable or a
        failing read goes through execute_field itself."""
        try:
            value = getattr(source, plain.attribute)
        except Exception:
            value = None
        if value is None or (
            value.__class__ not in self._plain_classes and self.is_awaitable(value)
        ):
            return self.execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return_type = plain.field.type
        try:
            completed = (
                self._complete_plain_composite(plain, field_details_list, path, value)
                if plain.object_type is not None and position_context is None
                else _ANOTHER_WAY
            )
            if completed is _ANOTHER_WAY:
                info = self.build_resolve_info(
                    plain.field, to_nodes(field_details_list), parent_type, path
                )
                completed = self.complete_value(
                    return_type, field_details_list, info, path, value, position_context
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return self._settled(completed, return_type, field_details_list, path)

    def _complete_plain_composite(
        self, plain: _PlainComposite, field_details_list: Any, path: Path, value: Any
    ) -> Any:
        """An object, or a list of objects, of the field's object type (exactly the class
        strawberry made it from), completed as graphql-core completes it: straight to each
        object's fields, without a ``GraphQLResolveInfo`` or the dispatch on nullability,
        lists, leaves and abstract types for every item. ``_ANOTHER_WAY`` when the value is
        anything else (a null item, another class, an exception, not a list, a possible
        ``@stream``): graphql-core completes it then."""
        object_type = plain.object_type
        assert object_type is not None
        origin = _origin(object_type) if object_type.is_type_of is not None else None
        if not plain.is_list:
            if (origin is not None and type(value) is not origin) or isinstance(value, Exception):
                return _ANOTHER_WAY
            return self._complete_object(object_type, field_details_list, path, value)
        if type(value) is not list or any(
            details.node.directives for details in field_details_list
        ):
            return _ANOTHER_WAY
        if origin is not None:
            if not all(type(item) is origin for item in value):
                return _ANOTHER_WAY
        elif not all(item is not None and not isinstance(item, Exception) for item in value):
            return _ANOTHER_WAY
        item_type = plain.item_type
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        # Every item has the same subfields: collected once (graphql-core would look up its
        # memo per item), each item straight to execute_fields.
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        execute_fields = self.execute_fields
        try:
            for index, item in enumerate(value):
                item_path = _path(path, index, None)
                try:
                    result = (
                        self._complete_object(object_type, field_details_list, item_path, item)
                        if new_defer_usages
                        else execute_fields(object_type, item, item_path, grouped_field_set, None)
                    )
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    result = None
                if result.__class__ is not dict and is_awaitable(result):
                    result = self._await_list_item(result, item_type, field_details_list, item_path)
                    awaitable_indices.append(index)
                completed.append(result)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed

        async def get_completed() -> list[Any]:
            awaited = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
            for index, item in zip(awaitable_indices, awaited, strict=True):
                completed[index] = item
            return completed

        return get_completed()

    def _complete_object(
        self, object_type: GraphQLObjectType, field_details_list: Any, path: Path, value: Any
    ) -> Any:
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return self.execute_collected_subfields(
                object_type, value, path, grouped_field_set, new_defer_usages, None
            )
        return self.execute_fields(object_type, value, path, grouped_field_set, None)

    async def _await_list_item(
        self, awaitable: Any, item_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        try:
            return await awaitable
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field_details_list, path)
            return None

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        # An object of an object type, as its resolver was declared to return it: straight to
        # its fields. (graphql-core's path would test for errors, nulls, lists, leaves and
        # abstract types first, then ask the type's is_type_of; a few microseconds on each
        # of the ~1,300 objects of an inbox page.) Anything else takes graphql-core's path.
        if result is not None and not isinstance(result, Exception):
            object_type = (
                return_type.of_type if type(return_type) is GraphQLNonNull else return_type
            )
            if type(object_type) is GraphQLObjectType and (
                object_type.is_type_of is None or type(result) is _origin(object_type)
            ):
                return self.collect_and_execute_subfields(
                    object_type, field_details_list, path, result, position_context
                )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if type(response) is ExecutionResult:
            # The operation is complete (no deferred or streamed work left). graphql-core's
            # resolver helpers are bound methods of this executor, which holds them: a
            # reference cycle that kept the whole operation — context, loaders, every row
            # read — alive until the cyclic collector ran (~1,500 objects and ~0.9 ms of
            # collection per inbox request). Without it the operation is freed at once.
            self.async_helpers = _AFTER_COMPLETION
        return response

    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._plans = {}  # type: ignore[attr-defined]
        executor._arguments = {}  # type: ignore[attr-defined]
        return executor


def _settle_later(values: Sequence[Any]) -> None:
    for value in values:
        if inspect.isawaitable(value):
            future = asyncio.ensure_future(value)
            _SETTLING.add(future)
            future.add_done_callback(_SETTLING.discard)


_SETTLING: set[asyncio.Future[Any]] = set()


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


# Resolver helpers for anything still holding an operation's info once it is complete.
_AFTER_COMPLETION = GraphQLResolveInfoHelpers(gather=_gather, track=_settle_later)


def _plain_classes(schema: Any) -> frozenset[type]:
    """The classes strawberry made the schema's object types from, when nothing can make
    their instances awaitable (no ``__await__``, ``__getattr__`` or ``__getattribute__`` of
    their own): the executor need not ask graphql-core's is_awaitable about each of the
    ~1,100 objects of an inbox page (a failing ``hasattr(value, "__await__")`` each)."""
    classes: frozenset[type] | None = schema.__dict__.get("_parley_plain_classes")
    if classes is None:
        found = set()
        for type_ in schema.type_map.values():
            origin = _origin(type_) if type(type_) is GraphQLObjectType else None
            if (
                isinstance(origin, type)
                and not hasattr(origin, "__await__")
                and not hasattr(origin, "__getattr__")
                and origin.__getattribute__ is object.__getattribute__
                and not issubclass(origin, (CoroutineType, GeneratorType))
            ):
                found.add(origin)
        classes = frozenset(found)
        schema._parley_plain_classes = classes
    return classes


def _origin(object_type: GraphQLObjectType) -> type | None:
    """The Python class strawberry made ``object_type`` from (kept on the type)."""
    origin: type | None = object_type.__dict__.get("_parley_origin")
    if origin is None:
        definition = object_type.extensions.get("strawberry-definition")
        origin = getattr(definition, "origin", None)
        object_type._parley_origin = origin  # type: ignore[attr-defined]
    return origin


def _complete_plain_leaf(leaf: _PlainLeaf, value: Any) -> Any:
    """The completed value, or ``Undefined`` to let graphql-core's path handle the field."""
    try:
        if value is None:
            return Undefined if leaf.non_null else None
        if value.__class__ is leaf.as_is:
            return value
        if value.__class__ is leaf.enum_class:
            return leaf.enum_names[value]  # type: ignore[index]
        coerced = leaf.graphql_type.coerce_output_value(value)
    except Exception:
        return Undefined
    return Undefined if coerced is None else coerced
