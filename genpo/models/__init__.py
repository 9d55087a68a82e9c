"""Velocity networks and policy families."""

from genpo.models import normflows_policy  # noqa: F401
from genpo.models.factory import MODELS, make_policy
from genpo.models.flow import FlowPolicy
from genpo.models.gaussian import GaussianPolicy
from genpo.models.policy import Policy
from genpo.models.velocity import VELOCITIES, MLPVelocity, ResMLPVelocity, VelocityNet

__all__ = [
    "MODELS",
    "VELOCITIES",
    "FlowPolicy",
    "GaussianPolicy",
    "MLPVelocity",
    "Policy",
    "ResMLPVelocity",
    "VelocityNet",
    "make_policy",
]
