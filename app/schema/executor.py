"""The executor class strawberry hands to graphql-core.

Two departures from the stock executor, both measured on the inbox query:

- **Plain leaf fields skip the resolver machinery.** A field without a resolver, arguments or
  field extensions (strawberry's "basic field": no permission classes either) whose type is a
  scalar or an enum is read with ``getattr`` and coerced right here, without building a
  ``GraphQLResolveInfo``, a ``Path`` and strawberry's wrapper calls. That is most of the
  ~3,900 fields of an inbox page (ids, bodies, statuses, times) and was the largest single
  item of its profile. Anything unusual (a missing attribute, a null for a non-null field, a
  value that does not coerce) falls back to graphql-core's own path, so errors read exactly
  as before.
- **Subscriptions get a fresh memo per event.** graphql-core 3.3.2 builds each subscription
  event's executor as a shallow copy of the subscription's executor, so every event shares
  one ``_relevant_sub_fields`` memo. The memo is keyed on ``id()`` of per-event lists, so it
  never hits across events and grows by ~1.6 KB per delivered event for as long as the
  subscription lives (+160 MB after 100,000 events). A fresh memo per event bounds it and is
  faster. Upstream report: docs/graphql-core-subscription-memo-leak.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.executor import Executor, to_nodes
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


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
    """A basic field of an object or list type: read by attribute, completed by graphql-core."""

    attribute: str
    field: GraphQLField


_PlainLeaves = dict[str, _PlainLeaf | _PlainComposite]
# Kept on the type itself: a lookup per object completed must cost no more than a dict read.
_ATTRIBUTE = "_parley_plain_leaves"


def _plain_leaves(parent_type: GraphQLObjectType) -> _PlainLeaves:
    leaves: _PlainLeaves | None = parent_type.__dict__.get(_ATTRIBUTE)
    if leaves is None:
        leaves = {}
        for name, field in parent_type.fields.items():
            leaf = _plain_leaf(field)
            if leaf is not None:
                leaves[name] = leaf
        setattr(parent_type, _ATTRIBUTE, leaves)
    return leaves


def _plain_leaf(field: GraphQLField) -> _PlainLeaf | _PlainComposite | None:
    # Strawberry's "basic field": no resolver, and no field extensions, which is where
    # permission classes live; its resolver only reads the attribute of the same Python
    # name. (`resolve._is_default` alone is not enough: a field with permission classes
    # but no resolver has it too.)
    definition = field.extensions.get("strawberry-definition")
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
        return None if is_abstract_type(named) else _PlainComposite(attribute, field)
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


_BUILT_IN = (GraphQLString, GraphQLID, GraphQLBoolean)
_AS_IS: dict[str, type] = {"String": str, "ID": str, "Boolean": bool}


class ParleyExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        # graphql-core's execute_fields, with plain leaf fields completed inline.
        middleware = self.middleware_manager
        plain = middleware is None or not middleware.middlewares
        leaves = _plain_leaves(parent_type) if plain else {}
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                leaf = leaves.get(field_details_list[0].node.name.value)
                if isinstance(leaf, _PlainLeaf):
                    value = _complete_plain_leaf(leaf, source_value)
                    if value is not Undefined:
                        results[response_name] = value
                        continue
                field_path = Path(path, response_name, parent_type.name)
                if isinstance(leaf, _PlainComposite):
                    result = self._execute_plain_composite(
                        leaf,
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
                    if is_awaitable(result):
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
        if value is None or self.is_awaitable(value):
            return self.execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return_type = plain.field.type
        info = self.build_resolve_info(plain.field, to_nodes(field_details_list), parent_type, path)
        try:
            completed = self.complete_value(
                return_type, field_details_list, info, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if not self.is_awaitable(completed):
            return completed

        async def await_completed() -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, return_type, field_details_list, path)
                return None

        return await_completed()

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

    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


def _origin(object_type: GraphQLObjectType) -> type | None:
    """The Python class strawberry made ``object_type`` from (kept on the type)."""
    origin: type | None = object_type.__dict__.get("_parley_origin")
    if origin is None:
        definition = object_type.extensions.get("strawberry-definition")
        origin = getattr(definition, "origin", None)
        object_type._parley_origin = origin  # type: ignore[attr-defined]
    return origin


def _complete_plain_leaf(leaf: _PlainLeaf, source: Any) -> Any:
    """The completed value, or ``Undefined`` to let graphql-core's path handle the field."""
    try:
        value = getattr(source, leaf.attribute)
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
