from app.schema.ai.mutations import AIMutation
from app.schema.ai.queries import AIQuery, AISubscription

__all__ = ["AIMutation", "AIQuery", "AISubscription"]
