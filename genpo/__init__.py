"""genpo: on-policy RL with generative flow policies whose log-likelihood is exact.

``genpo.train``, ``genpo.load`` and ``genpo.evaluate`` (see :mod:`genpo.training.api`) are what the
``genpo`` command runs; they are imported on first use so that ``import genpo`` stays light.
"""

from typing import Any

from genpo import inversion  # noqa: F401  (registers integrators and estimators)
from genpo.models import make_policy
from genpo.models.policy import Policy

__version__ = "0.1.0"

_API = {"train", "load", "evaluate", "prepare"}
_TRAINING = {"TrainConfig", "TrainResult"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from genpo.training import api

        return getattr(api, name)
    if name in _TRAINING:
        import genpo.training

        return getattr(genpo.training, name)
    raise AttributeError(f"module 'genpo' has no attribute {name!r}")


__all__ = ["Policy", "TrainConfig", "TrainResult", "__version__", "evaluate", "load", "make_policy", "prepare", "train"]
