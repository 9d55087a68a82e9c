"""Loss terms and schedules the trainer composes (each a small function or dataclass)."""

from genpo.objectives.compression import compression_loss
from genpo.objectives.entropy import entropy_estimate
from genpo.objectives.kl import AdaptiveLR, sample_kl
from genpo.objectives.ppo import asymmetric_surrogate, clipped_surrogate, normalize_advantages
from genpo.objectives.value import explained_variance, value_loss

__all__ = [
    "AdaptiveLR",
    "asymmetric_surrogate",
    "clipped_surrogate",
    "compression_loss",
    "entropy_estimate",
    "explained_variance",
    "normalize_advantages",
    "sample_kl",
    "value_loss",
]
