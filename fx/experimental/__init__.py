"""``fx.experimental``, as ``jax.experimental``: APIs whose form may still change.

``checkify`` (functional error checks) lives here.
"""
from fx.experimental import checkify  # noqa: F401
from fx.experimental import shard_map  # noqa: F401
