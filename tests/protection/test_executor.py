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


@strawberry.enum
class Size(Enum):
    SMALL = "SMALL"
    LARGE = "LARGE"


@strawberry.type
class Shelf:
    label: str

    # Sync resolvers called directly by the executor (no field extensions, scalar
    # arguments), next to ones that keep strawberry's chain (permission, enum argument).
    @strawberry.field
    def echo(
        self, info: strawberry.Info, word: str = "hi", times: int | None = None, loud: bool = False
    ) -> str:
        text = f"{self.label}:{info.field_name}:{word * (times or 1)}"
        return text.upper() if loud else text

    @strawberry.field
    @staticmethod
    def from_root(root: Shelf) -> str:
        return f"root {root.label}"

    @strawberry.field
    @staticmethod
    def from_parent(parent: strawberry.Parent[Shelf]) -> str:
        return f"parent {parent.label}"

    @strawberry.field
    def failing(self, word: str) -> str | None:
        raise ValueError(f"no {word}")

    @strawberry.field
    def failing_strict(self) -> str:
        raise ValueError("strict")

    @strawberry.field
    def later(self) -> Leaf:
        async def leaf() -> Leaf:
            return Leaf(name=self.label, size=len(self.label))

        return leaf()  # type: ignore[return-value]

    @strawberry.field(permission_classes=[Never])
    def guarded(self) -> str:
        return "secret"

    @strawberry.field
    def sized(self, size: Size = Size.SMALL) -> str:
        return size.value


@strawberry.type
class Store:
    @strawberry.field
    def shelves(self) -> list[Shelf]:
        return [Shelf(label="a"), Shelf(label="b")]


async def test_sync_resolvers_answer_exactly_as_through_strawberrys_chain() -> None:
    queries: list[tuple[str, dict[str, Any] | None]] = [
        ('{ shelves { echo e2: echo(word: "yo", times: 2) e3: echo(loud: true) } }', None),
        ("query ($w: String!, $n: Int) { shelves { echo(word: $w, times: $n) } }", {"w": "x"}),
        (
            "query ($w: String!, $n: Int) { shelves { echo(word: $w, times: $n) } }",
            {"w": "x", "n": 3},
        ),
        ('{ shelves { fromRoot fromParent failing(word: "way") label } }', None),
        ("{ shelves { label failingStrict } }", None),
        ("{ shelves { later { name size } } }", None),
        ("{ shelves { guarded label } }", None),
        ("{ shelves { sized large: sized(size: LARGE) } }", None),
    ]
    fast = strawberry.Schema(query=Store, execution_context_class=ParleyExecutor)
    stock = strawberry.Schema(query=Store)

    for query, variables in queries:
        ours = await fast.execute(query, variable_values=variables)
        theirs = await stock.execute(query, variable_values=variables)

        assert ours.data == theirs.data, query
        assert [(e.message, e.path) for e in ours.errors or []] == [
            (e.message, e.path) for e in theirs.errors or []
        ], query
    first = await fast.execute(queries[0][0])
    assert first.data == {
        "shelves": [
            {"echo": "a:echo:hi", "e2": "a:echo:yoyo", "e3": "A:ECHO:HI"},
            {"echo": "b:echo:hi", "e2": "b:echo:yoyo", "e3": "B:ECHO:HI"},
        ]
    }
