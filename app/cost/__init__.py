"""Static query cost analysis.

Every operation is costed before it runs and refused when it asks for too much
(DESIGN.md, "GraphQL conventions"). The cost of a selection is the sum of its fields:

- a field returning an object, interface or union costs 1; a scalar or enum costs 0;
  a list that is not a connection costs like a single item (plain lists are short);
- a connection field (its type's name ends with ``Connection``) costs
  2 + N × (cost of its selection), N being its ``first`` or ``last`` argument (the larger
  when both are given, 20 when neither is), so nested connections multiply;
- a connection's ``edges`` and ``pageInfo`` cost nothing themselves: each row is counted
  once, as its edge's ``node`` (or as an item of ``nodes``);
- a root mutation field costs 10 plus its payload;
- ``@cost(weight: n)`` on a field definition replaces that field's own cost (1, 2, 10
  or 0); its selection still adds and, on a connection, is still multiplied by N;
- ``__typename``, ``__schema`` and ``__type`` cost nothing, nor does anything below them.

Selections are summed as written: every alias counts, and fragments on the different
possible types of an interface or union all count, instead of taking the maximum over
the types. That overestimates queries that ask different things of different types, but
keeps the analysis a single pass, easy to explain to client developers, and never an
underestimate. A selection excluded by ``@skip``/``@include`` costs 0.
"""

from app.cost.analysis import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, actual_cost, compute_cost
from app.cost.directive import Cost
from app.cost.errors import CostError, CostLimitExceeded, PageSizeOutOfRange
from app.cost.extension import MaximumCost, QueryCost, QueryCostExtension

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Cost",
    "CostError",
    "CostLimitExceeded",
    "MaximumCost",
    "PageSizeOutOfRange",
    "QueryCost",
    "QueryCostExtension",
    "actual_cost",
    "compute_cost",
]
