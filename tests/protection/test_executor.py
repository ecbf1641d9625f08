"""The executor's inline path for plain leaf fields answers exactly like graphql-core's."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from app.schema.executor import ParleyExecutor


@strawberry.enum
class Colour(Enum):
    RED = "RED"


class Never(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Item:
    name: str
    colour: Colour
    at: datetime
    note: str | None
    secret: str = strawberry.field(permission_classes=[Never])


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        return [
            Item(name="a", colour=Colour.RED, at=at, note=None, secret="s"),
            Item(name=None, colour=Colour.RED, at=at, note="n", secret="s"),  # type: ignore[arg-type]
        ]


def _execute(query: str) -> Any:
    schema = strawberry.Schema(query=Query, execution_context_class=ParleyExecutor)
    return schema.execute_sync(query)


def test_plain_leaves_are_serialized_like_any_other_field() -> None:
    result = _execute("{ items { colour at note } }")

    assert result.errors is None
    assert result.data == {
        "items": [
            {"colour": "RED", "at": "2026-01-02T03:04:05+00:00", "note": None},
            {"colour": "RED", "at": "2026-01-02T03:04:05+00:00", "note": "n"},
        ]
    }


def test_a_null_in_a_non_null_plain_leaf_is_the_usual_located_error() -> None:
    result = _execute("{ items { name } }")

    [error] = result.errors
    assert error.message == "Cannot return null for non-nullable field Item.name."
    assert error.path == ["items", 1, "name"]
    assert result.data is None


def test_a_field_with_permission_classes_still_checks_them() -> None:
    result = _execute("{ items { colour secret } }")

    assert result.errors is not None
    assert {error.message for error in result.errors} == {"Not for you."}


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):
    name: str
    size: int | None


@strawberry.type
class Branch:
    leaf: Leaf
    maybe: Leaf | None
    leaves: list[Leaf]
    holes: list[Leaf | None]
    strict: list[Leaf]
    named: Named
    # Items whose own non-null field is null: the item is nulled (loose), or the list (tight).
    loose: list[Leaf | None]
    tight: list[Leaf]

    @strawberry.field
    def broken(self) -> Leaf:
        raise ValueError("broken branch")


@strawberry.type
class Tree:
    @strawberry.field
    def branches(self) -> list[Branch]:
        good = Leaf(name="g", size=1)
        bad = Leaf(name=None, size=3)  # type: ignore[arg-type]
        return [
            Branch(
                leaf=good,
                maybe=None,
                leaves=[good],
                holes=[None, good],
                strict=[good],
                named=good,
                loose=[good],
                tight=[good, good],
            ),
            Branch(
                leaf=Leaf(name=None, size=2),  # type: ignore[arg-type]
                maybe=good,
                leaves=[],
                holes=[],
                strict=[None],  # type: ignore[list-item]
                named=good,
                loose=[bad, good],
                tight=[good, bad],
            ),
        ]


def test_object_and_list_fields_complete_exactly_as_graphql_core_completes_them() -> None:
    queries = [
        "{ branches { leaf { name size } maybe { name } leaves { name } holes { size } } }",
        "{ branches { strict { name } } }",
        "{ branches { broken { name } maybe { name } } }",
        "{ branches { named { name ... on Leaf { size } } } }",
        "{ branches { loose { name size } leaves { size } } }",
        "{ branches { tight { size name } } }",
        "{ branches { tight { size } loose { size } } }",
    ]
    fast = strawberry.Schema(query=Tree, execution_context_class=ParleyExecutor)
    stock = strawberry.Schema(query=Tree)

    for query in queries:
        ours, theirs = fast.execute_sync(query), stock.execute_sync(query)

        assert ours.data == theirs.data, query
        assert [(e.message, e.path) for e in ours.errors or []] == [
            (e.message, e.path) for e in theirs.errors or []
        ], query


@strawberry.type
class Odd:
    @strawberry.field
    def leaf(self) -> Leaf:
        return ValueError("returned, not raised")  # type: ignore[return-value]

    @strawberry.field
    def wrong(self) -> Leaf:
        return Branch  # type: ignore[return-value]


def test_returned_errors_and_objects_of_the_wrong_type_are_reported_as_graphql_core_does() -> None:
    fast = strawberry.Schema(query=Odd, execution_context_class=ParleyExecutor)
    stock = strawberry.Schema(query=Odd)

    for query in ("{ leaf { name } }", "{ wrong { name } }"):
        ours, theirs = fast.execute_sync(query), stock.execute_sync(query)

        assert ours.errors is not None, query
        assert ours.data == theirs.data, query
        assert [e.message for e in ours.errors] == [e.message for e in theirs.errors or []]
