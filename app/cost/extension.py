from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app.cost.analysis import compute_cost
from app.cost.errors import CostLimitExceeded


@dataclass(frozen=True, slots=True)
class QueryCost:
    requested: int
    maximum: int


MaximumCost: TypeAlias = int | Callable[[ExecutionContext], int]


class QueryCostExtension(SchemaExtension):
    """Refuses an operation whose static cost is over ``maximum`` before any resolver runs.

    The cost is kept for the budget layer, always on ``self.cost`` and on the context
    when it has a ``cost`` attribute: a mapping there gets ``requestedQueryCost``, the
    key of the response's ``extensions.cost``; anything else is replaced by the
    ``QueryCost``. Give the schema a factory, so that each operation gets its own
    instance:
    ``strawberry.Schema(..., extensions=[lambda: QueryCostExtension(maximum=1000)])``.
    """

    def __init__(
        self, maximum: MaximumCost, *, execution_context: ExecutionContext | None = None
    ) -> None:
        super().__init__(execution_context=execution_context)
        self.maximum = maximum
        self.cost: QueryCost | None = None

    # Costed when execution starts rather than while validating: the document is known
    # to be valid by then, whatever other extensions (a validation cache) did before,
    # and raising here stops queries, mutations and subscriptions alike.
    def on_execute(self) -> Iterator[None]:
        execution_context = self.execution_context
        assert execution_context.graphql_document is not None
        requested = compute_cost(
            execution_context.schema._schema,
            execution_context.graphql_document,
            execution_context.variables,
            execution_context.operation_name,
        )
        maximum = self.maximum(execution_context) if callable(self.maximum) else self.maximum
        self.cost = QueryCost(requested=requested, maximum=maximum)
        _share(self.cost, execution_context.context)
        if requested > maximum:
            raise CostLimitExceeded(requested, maximum)
        yield


def _share(cost: QueryCost, context: Any) -> None:
    # A mapping is the response's `extensions.cost` in the making, keyed as it will be.
    shared = getattr(context, "cost", None)
    if isinstance(shared, MutableMapping):
        shared["requestedQueryCost"] = cost.requested
    elif hasattr(context, "cost"):
        context.cost = cost
