from app.schema.plans.mutations import PlansMutation
from app.schema.plans.queries import PlansQuery, PlansSubscription

__all__ = ["PlansMutation", "PlansQuery", "PlansSubscription"]
