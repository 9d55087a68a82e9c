"""Integrators (noise <-> latent maps) and likelihood estimators (their log-dets)."""

# Registration order is the order `genpo list` and error messages show: the original members first.
from genpo.inversion import edict, euler, pf_ode  # noqa: F401  (registers the parts)

# isort: split
from genpo.inversion import cfm, chain, reversible  # noqa: F401

# isort: split
from genpo.inversion.base import INTEGRATORS, Integrator, InversionError, batch_jacobian, std_normal_log_prob
from genpo.inversion.cfm import CFMRatio, NotADensityError
from genpo.inversion.chain import GaussianChainIntegrator, NoiseHead
from genpo.inversion.edict import EdictIntegrator
from genpo.inversion.euler import EulerIntegrator
from genpo.inversion.likelihood import (
    LIKELIHOODS,
    ExactEstimator,
    HutchinsonEstimator,
    JacobianEstimator,
    LikelihoodEstimator,
    TraceEstimator,
)
from genpo.inversion.pf_ode import PFODEIntegrator
from genpo.inversion.reversible import ReversibleHeunIntegrator, ReversibleRKIntegrator
from genpo.inversion.tableau import TABLEAUS, Tableau

__all__ = [
    "INTEGRATORS",
    "LIKELIHOODS",
    "TABLEAUS",
    "CFMRatio",
    "EdictIntegrator",
    "EulerIntegrator",
    "ExactEstimator",
    "GaussianChainIntegrator",
    "HutchinsonEstimator",
    "Integrator",
    "InversionError",
    "JacobianEstimator",
    "LikelihoodEstimator",
    "NoiseHead",
    "NotADensityError",
    "PFODEIntegrator",
    "ReversibleHeunIntegrator",
    "ReversibleRKIntegrator",
    "Tableau",
    "TraceEstimator",
    "batch_jacobian",
    "std_normal_log_prob",
]
