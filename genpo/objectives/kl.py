"""Sample KL estimate and the KL-adaptive learning-rate rule (rsl_rl's, which the authors use)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from genpo.errors import ConfigError


def sample_kl(old_log_prob: Tensor, new_log_prob: Tensor) -> Tensor:
    """KL(old || new) estimated on samples of the old policy: ``mean(old - new)``."""
    return (old_log_prob - new_log_prob).mean()


@dataclass
class AdaptiveLR:
    """Multiplies the learning rate down when the KL overshoots and up when it undershoots.

    Attributes:
        desired_kl: Target KL per update.
        factor: Multiplicative step.
        min_lr: Lower bound.
        max_lr: Upper bound.
    """

    desired_kl: float = 0.01
    factor: float = 1.5
    min_lr: float = 1e-5
    max_lr: float = 1e-2

    def __post_init__(self) -> None:
        if not self.desired_kl > 0:
            raise ConfigError(f"desired_kl must be > 0, got {self.desired_kl!r}")
        if not self.factor > 1:
            raise ConfigError(f"factor must be > 1, got {self.factor!r}")
        if not 0 < self.min_lr <= self.max_lr:
            raise ConfigError(f"need 0 < min_lr <= max_lr, got {self.min_lr!r}, {self.max_lr!r}")

    def __call__(self, lr: float, kl: float) -> float:
        """The next learning rate given the current one and the measured KL."""
        if kl > 2.0 * self.desired_kl:
            return max(self.min_lr, lr / self.factor)
        if 0.0 <= kl < 0.5 * self.desired_kl:
            return min(self.max_lr, lr * self.factor)
        return lr
