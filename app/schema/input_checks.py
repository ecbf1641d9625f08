"""The input limits of ``app.platform.input_limits``, applied before any resolver runs.

A mutation whose ``input`` carries a string longer than the table allows, or JSON nested too
deep or too large, answers its payload with one ``userErrors`` entry per such field and does
nothing else; a query argument over its limit is BAD_USER_INPUT. Either way the message names
the field and the limit, and the oversized value goes nowhere: not to the database, not to a
log line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    StrawberryType,
    get_object_definition,
)
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from app.platform.errors import BadUserInput
from app.platform.input_limits import ARGUMENTS, LENGTHS, json_problem, too_long
from app.schema.user_errors import UserError, UserErrorCode


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    path: list[str]
    message: str
    limit: int


def input_problems(value: Any, path: list[str]) -> list[Problem]:
    """Every string of the input object ``value`` (and of the input objects in it) that is
    longer than its entry in the table, and every JSON value too deep or too large."""
    definition = get_object_definition(value)
    if definition is None:
        return []
    lengths = LENGTHS.get(definition.name, {})
    problems: list[Problem] = []
    for field in definition.fields:
        name = _name(field)
        item = getattr(value, field.python_name, None)
        if item is None:
            continue
        at = [*path, name]
        if _is_json(field.type):
            if found := json_problem(name, item):
                problems.append(Problem(at, *found))
            continue
        limit = lengths.get(name)
        for index, element in enumerate(item if isinstance(item, list) else [item]):
            where = [*at, str(index)] if isinstance(item, list) else at
            if isinstance(element, str):
                if limit is not None and len(element) > limit:
                    problems.append(Problem(where, too_long(name, limit), limit))
            else:
                problems += input_problems(element, where)
    return problems


def argument_problems(
    limits: dict[str, tuple[str, int]], arguments: dict[str, Any]
) -> list[Problem]:
    """The arguments (GraphQL name -> Python name and limit) longer than their limit."""
    problems: list[Problem] = []
    for argument, (python_name, limit) in limits.items():
        value = arguments.get(python_name)
        for element in value if isinstance(value, list) else [value]:
            if isinstance(element, str) and len(element) > limit:
                problems.append(Problem([argument], too_long(argument, limit), limit))
                break
    return problems


class CheckInputLimits(FieldExtension):
    """On a mutation: the input's problems become the payload's userErrors."""

    def apply(self, field: StrawberryField) -> None:
        self.refuse = _refusal(field.type)

    def _refused(self, kwargs: dict[str, Any]) -> Any:
        problems = input_problems(kwargs.get("input"), ["input"])
        if not problems:
            return None
        return self.refuse(
            [
                UserError(field=p.path, message=p.message, code=UserErrorCode.INVALID)
                for p in problems
            ]
        )

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        refused = self._refused(kwargs)
        return refused if refused is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        refused = self._refused(kwargs)
        return refused if refused is not None else await next_(source, info, **kwargs)


class CheckArgumentLimits(FieldExtension):
    """On a query field: an argument over its limit is BAD_USER_INPUT."""

    def apply(self, field: StrawberryField) -> None:
        limits = ARGUMENTS[_name(field)]
        self.limits = {
            _name(argument): (argument.python_name, limits[_name(argument)])
            for argument in field.arguments
            if _name(argument) in limits
        }

    def _check(self, kwargs: dict[str, Any]) -> None:
        problems = argument_problems(self.limits, kwargs)
        if problems:
            first = problems[0]
            raise BadUserInput(first.message, field=first.path[-1], maxLength=first.limit)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        self._check(kwargs)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        self._check(kwargs)
        return await next_(source, info, **kwargs)


def install(query: type, mutation: type | None) -> None:
    """Put the checks on every mutation and on the query fields with limited arguments.

    Innermost, so that permissions are checked first (strawberry runs the last one first).
    """
    if mutation is not None:
        for field in _fields(mutation):
            _insert(field, CheckInputLimits)
    for field in _fields(query):
        if _name(field) in ARGUMENTS:
            _insert(field, CheckArgumentLimits)


def _insert(field: StrawberryField, kind: type[FieldExtension]) -> None:
    # Schemas are built more than once per process (tests); the fields are shared.
    if not any(isinstance(extension, kind) for extension in field.extensions):
        field.extensions.insert(0, kind())


def _fields(root: type) -> list[StrawberryField]:
    definition = get_object_definition(root, strict=True)
    return list(definition.fields)


def _is_json(field_type: Any) -> bool:
    if isinstance(field_type, StrawberryOptional):
        field_type = field_type.of_type
    return field_type is JSON


def _name(field: StrawberryField | StrawberryArgument) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def _refusal(payload_type: StrawberryType | type) -> Callable[[list[UserError]], Any]:
    """How to answer ``payload_type`` with nothing but userErrors: null objects, empty lists,
    false flags, other fields' defaults. A payload with a field that has none of these fails
    here, when the schema is built."""
    definition = get_object_definition(payload_type, strict=True)
    empty: dict[str, Any] = {}
    for field in definition.fields:
        if field.python_name == "user_errors":
            continue
        if isinstance(field.type, StrawberryOptional):
            empty[field.python_name] = None
        elif isinstance(field.type, StrawberryList):
            empty[field.python_name] = []
        elif field.type is bool:
            empty[field.python_name] = False
        elif field.default is not dataclasses.MISSING:
            empty[field.python_name] = field.default
        else:
            raise TypeError(f"{definition.name}.{field.python_name}: no empty value to refuse with")
    payload: Any = payload_type
    return lambda errors: payload(**empty, user_errors=errors)
