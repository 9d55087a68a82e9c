"""genpo: on-policy RL with generative flow policies whose log-likelihood is exact."""

from genpo import inversion  # noqa: F401  (registers integrators and estimators)
from genpo.models import make_policy
from genpo.models.policy import Policy

__version__ = "0.1.0"

__all__ = ["Policy", "__version__", "make_policy"]
