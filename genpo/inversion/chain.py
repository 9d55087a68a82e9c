"""A stochastic K-step chain (DPPO, ReinFlow) as an exactly invertible map with a closed-form log-det."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from genpo.errors import ConfigError
from genpo.inversion.base import INTEGRATORS, Divergence, Integrator, VelocityField

NOISE_MODES = ("fixed", "learned")


class NoiseHead(nn.Module):
    """ReinFlow-style learned noise scale ``sigma(obs, t) in [sigma_min, sigma_max]`` per action dimension.

    A small tanh MLP on ``concat(obs, t)`` (and the chain state ``x_k`` if ``sees_latent``), squashed by
    a sigmoid into the interval, so every parameter value gives a scale inside the bounds. The last layer
    starts at zero: the initial scale is the middle of the interval for every input.

    Args:
        obs_dim: Observation width.
        action_dim: Action width d (one scale per dimension).
        sigma_min: Lower bound (> 0).
        sigma_max: Upper bound (>= sigma_min).
        hidden: Hidden widths.
        sees_latent: Whether the head also reads the chain state ``x_k``.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        sigma_min: float,
        sigma_max: float,
        hidden: Sequence[int] = (64, 64),
        sees_latent: bool = False,
    ) -> None:
        super().__init__()
        self.sigma_min, self.sigma_max, self.sees_latent = sigma_min, sigma_max, sees_latent
        sizes = [obs_dim + 1 + (action_dim if sees_latent else 0), *hidden, action_dim]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.Tanh()]
        self.net = nn.Sequential(*layers[:-1])
        last = self.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, obs: Tensor, x: Tensor, t: float) -> Tensor:
        """The scale ``[B, d]`` of the step from ``x_k`` at time ``t``."""
        parts = [obs, obs.new_full((obs.shape[0], 1), t)] + ([x] if self.sees_latent else [])
        unit = torch.sigmoid(self.net(torch.cat(parts, dim=-1)))
        # The clamp only acts on rounding: in float32, lo + (hi - lo) * 1 can land one ulp past hi.
        return (self.sigma_min + (self.sigma_max - self.sigma_min) * unit).clamp(self.sigma_min, self.sigma_max)


class ChainField:
    """A bound velocity field that also carries the chain's noise scale ``sigma(x, t)`` for its observations."""

    def __init__(self, field: VelocityField, sigma: Callable[[Tensor, float], Tensor]) -> None:
        self.field, self.sigma = field, sigma

    def __call__(self, x: Tensor, t: float | Tensor) -> Tensor:
        return self.field(x, t)


class GaussianChainIntegrator(Integrator):
    """DPPO/ReinFlow's stochastic sampler; one step of size ``h = 1/K`` from ``t_k = k/K``::

        x_{k+1} = x_k + h v(x_k, t_k) + sigma_k * eps_{k+1},   eps_{k+1} ~ N(0, I),   x_0 ~ N(0, I)

    The noise is ``(x_0, eps_1, ..., eps_K)`` and the latent the whole chain ``(x_0, x_1, ..., x_K)``,
    both ``(K + 1) d`` wide; the action is ``x_K``. Zero noise gives the noise-free chain from
    ``x_0 = 0``: the deterministic action.

    Log-det (derivation): ``x_{k+1}`` depends on ``eps_{k+1}`` through ``diag(sigma_k)`` and otherwise on
    earlier entries only (``sigma_k`` may depend on ``x_k``, ``t_k`` and the observation, never on
    ``eps_{k+1}``), so the Jacobian is block lower-triangular with diagonal blocks ``I, diag(sigma_0),
    ..., diag(sigma_{K-1})``: ``log|det| = sum_k sum_i log sigma_{k,i}``. The inverse is explicit,
    ``eps_{k+1} = (x_{k+1} - x_k - h v(x_k, t_k)) / sigma_k``, and ``log N(noise) - log|det|`` equals
    the chain likelihood ``log N(x_0) + sum_k log N(x_{k+1}; x_k + h v, sigma_k^2 I)``.

    Args:
        steps: Number of steps K.
        noise: ``fixed`` (DPPO: ``sigma_k = max(sigma_max (1 - t_k), sigma_min)``, decaying to the
            floor) or ``learned`` (ReinFlow: a :class:`NoiseHead` on ``(obs, t)``, bounded in
            ``[sigma_min, sigma_max]``, trained with the policy).
        sigma_min: Floor of the fixed schedule / lower bound of the learned scale (> 0; DPPO: 0.1).
        sigma_max: Level at ``t = 0`` of the fixed schedule / upper bound of the learned scale.
        noise_hidden: Hidden widths of the learned head.
        noise_sees_latent: Whether the learned head also reads ``x_k``.
    """

    name = "gaussian-chain"
    exact_log_det = True

    def __init__(
        self,
        steps: int = 5,
        noise: str = "fixed",
        sigma_min: float = 0.1,
        sigma_max: float = 0.5,
        noise_hidden: Sequence[int] = (64, 64),
        noise_sees_latent: bool = False,
    ) -> None:
        super().__init__(steps)
        if noise not in NOISE_MODES:
            raise ConfigError(f"unknown noise {noise!r}; choose one of: {', '.join(NOISE_MODES)}", field="noise")
        for name, val in (("sigma_min", sigma_min), ("sigma_max", sigma_max)):
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0.0 < float(val) < float("inf"):
                raise ConfigError(f"{name} must be a finite number > 0, got {val!r}", field=name)
        if sigma_min > sigma_max:
            raise ConfigError(f"need sigma_min <= sigma_max, got {sigma_min!r} > {sigma_max!r}", field="sigma_min")
        self.noise, self.sigma_min, self.sigma_max = noise, float(sigma_min), float(sigma_max)
        self.noise_hidden, self.noise_sees_latent = tuple(noise_hidden), bool(noise_sees_latent)
        self.head: NoiseHead | None = None

    def latent_width(self, action_dim: int) -> int:
        return (self.steps + 1) * action_dim

    def make_parts(self, obs_dim: int, action_dim: int) -> nn.Module | None:
        """The learned noise head (built once; policies composed with this integrator share it)."""
        if self.noise != "learned":
            return None
        if self.head is None:
            self.head = NoiseHead(
                obs_dim, action_dim, self.sigma_min, self.sigma_max, self.noise_hidden, self.noise_sees_latent
            )
        return self.head

    def condition(self, field: VelocityField, obs: Tensor) -> VelocityField:
        head = self.head
        if head is None:
            return field
        return ChainField(field, lambda x, t: head(obs, x, t))

    def fixed_sigma(self, t: float) -> float:
        """The fixed schedule's scale at step time ``t``."""
        return max(self.sigma_max * (1.0 - t), self.sigma_min)

    def _sigma_fn(self, field: VelocityField) -> Callable[[Tensor, float], Tensor]:
        if self.noise == "fixed":
            return lambda x, t: x.new_full(x.shape, self.fixed_sigma(t))
        sigma = getattr(field, "sigma", None)
        if sigma is None:
            raise ValueError(
                "gaussian-chain with noise='learned' needs the field from integrator.condition(field, obs) "
                "(FlowPolicy does this); a plain velocity field carries no noise head"
            )
        return sigma

    def _split(self, z: Tensor) -> list[Tensor]:
        if z.shape[-1] % (self.steps + 1):
            raise ValueError(f"gaussian-chain latents are (K + 1) * d wide (K = {self.steps}), got {z.shape[-1]}")
        return list(z.chunk(self.steps + 1, dim=-1))

    def forward(
        self, field: VelocityField, noise: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        sigma, h = self._sigma_fn(field), self.dt
        x, *eps = self._split(noise)
        chain, total = [x], noise.new_zeros(noise.shape[:1])
        for k, t in enumerate(self.times()):
            s = sigma(x, t)
            x = x + h * field(x, t) + s * eps[k]
            chain.append(x)
            if log_det:
                total = total + s.log().sum(-1)
        return torch.cat(chain, dim=-1), total if log_det else None

    def inverse(
        self, field: VelocityField, latent: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        sigma, h = self._sigma_fn(field), self.dt
        chain = self._split(latent)
        noise, total = [chain[0]], latent.new_zeros(latent.shape[:1])
        for k, t in enumerate(self.times()):
            x = chain[k]
            s = sigma(x, t)
            noise.append((chain[k + 1] - x - h * field(x, t)) / s)
            if log_det:
                total = total - s.log().sum(-1)
        return torch.cat(noise, dim=-1), total if log_det else None

    def to_action(self, latent: Tensor) -> Tensor:
        return self._split(latent)[-1]

    def describe(self) -> str:
        return (
            f"gaussian-chain(steps={self.steps}, noise={self.noise}, "
            f"sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"
        )


INTEGRATORS.add(
    "gaussian-chain",
    GaussianChainIntegrator,
    "DPPO/ReinFlow stochastic chain (fixed or learned noise); latent = whole chain, log|det| = Σ log σ",
)
