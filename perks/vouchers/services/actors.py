from django.contrib.auth.models import User

from perks.merchants.models import ApiKey
from perks.merchants.services import Actor

ACTOR_LABEL_MAX_LENGTH = 120
SYSTEM = "system"


def actor_label(actor: Actor | None) -> str:
    """Who did it, as a row keeps it: readable, and stable once the key or person is gone."""
    if actor is None:
        label = SYSTEM
    elif isinstance(actor, ApiKey):
        label = f"api_key:{actor.prefix} {actor.name}"
    elif isinstance(actor, User):
        label = f"user:{actor.get_username()}"
    else:
        raise TypeError(f"Not an actor: {actor!r}")
    return label[:ACTOR_LABEL_MAX_LENGTH]
