from graphql import GraphQLError, Node


class CostError(GraphQLError):
    """An operation refused before execution because of what it would cost."""


class CostLimitExceeded(CostError):
    def __init__(self, requested: int, maximum: int) -> None:
        self.requested = requested
        self.maximum = maximum
        super().__init__(
            f"Query cost {requested} exceeds the maximum of {maximum}. "
            "Select fewer fields or ask for smaller pages with first/last.",
            extensions={
                "code": "QUERY_TOO_COMPLEX",
                "cost": {"requestedQueryCost": requested, "maximum": maximum},
            },
        )


class PageSizeOutOfRange(CostError):
    def __init__(self, argument: str, requested: int, maximum: int, node: Node | None) -> None:
        self.argument = argument
        self.requested = requested
        self.maximum = maximum
        super().__init__(
            f"`{argument}` must be between 0 and {maximum}, got {requested}.",
            nodes=node,
            extensions={"code": "BAD_USER_INPUT"},
        )
