"""Velocity networks ``v(x, t, obs)`` for flow policies.

A velocity network sees one latent of the integrator's working width (the action width ``d``;
EDICT applies it to each half of its doubled latent), a time ``t`` in [0, 1] and the observation.
Integrators never call ``forward`` in their inner loop: they call :meth:`VelocityNet.bind` once per
pass, which lets a network precompute whatever depends on the observation only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from genpo.errors import ConfigError
from genpo.inversion.base import VelocityField
from genpo.registry import Registry

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "mish": nn.Mish,
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


def make_activation(name: str) -> nn.Module:
    """Returns a fresh activation module; ``ValueError`` names the allowed values."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}", field="activation"
        ) from None


def mlp(sizes: Sequence[int], activation: str, *, last_activation: bool = False) -> nn.Sequential:
    """A plain MLP ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between layers."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)


class SinusoidalTimeEmbedding(nn.Module):
    """Sinusoidal features of ``t`` followed by a small MLP (32 -> 256 -> 256 -> 32 by default).

    Args:
        dim: Width of the sinusoidal features and of the output.
        hidden: Width of the two hidden layers.
        activation: Activation name.
        max_period: Ratio of the longest to the shortest period of the sinusoids.
        time_scale: ``t`` is multiplied by this before the sinusoids. The fastest feature is
            ``sin(time_scale * t)``: 10 keeps the field smooth in t (adaptive ODE solvers take few steps;
            1000, the diffusion-timestep convention, made dopri5 take ~300 evaluations) while the K grid
            times of a 5-step flow still get clearly different embeddings.
    """

    def __init__(
        self,
        dim: int = 32,
        hidden: int = 256,
        activation: str = "mish",
        max_period: float = 10_000.0,
        time_scale: float = 10.0,
    ):
        super().__init__()
        if dim % 2:
            raise ConfigError(f"time embedding dim must be even, got {dim}", field="time_dim")
        self.dim, self.time_scale = dim, time_scale
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.net = mlp([dim, hidden, hidden, dim], activation)

    def forward(self, t: Tensor) -> Tensor:
        """Embeds times ``t`` of shape ``[...]`` into ``[..., dim]``."""
        args = (self.time_scale * t).unsqueeze(-1) * self.freqs.to(t.dtype)
        return self.net(torch.cat([args.sin(), args.cos()], dim=-1))


class VelocityNet(nn.Module):
    """Base of velocity networks: ``forward(x, t, obs)`` and a default :meth:`bind`.

    Subclasses implement ``forward``; overriding ``bind`` is an optional speed-up.

    Attributes:
        latent_dim: Width of the latent the network moves.
        obs_dim: Width of the observation it is conditioned on.
    """

    latent_dim: int
    obs_dim: int
    _static_cache: dict | None = None
    _shared_cache: dict | None = None

    @contextmanager
    def static_parameters(self) -> Iterator[None]:
        """Promises that parameters do not change inside the block, so parameter-only terms may be cached.

        Only no-grad passes use the cache (optimizers update parameters in place, and fused kernels do not
        even bump tensors' version counters, so nothing can detect the change by itself).
        """
        self._static_cache = {}
        try:
            yield
        finally:
            self._static_cache = None

    @contextmanager
    def shared_terms(self) -> Iterator[None]:
        """Parameter-only terms are computed once for every pass inside the block, with gradient where grad is on.

        For the passes of one minibatch of an update (the log-prob pass and the compression pass): they share one
        copy of each term, and the backward pass sums their gradients through it. Leave the block before the
        optimizer steps.
        """
        self._shared_cache = {}
        try:
            yield
        finally:
            self._shared_cache = None

    def bind(self, obs: Tensor) -> VelocityField:
        """Returns the velocity field for one batch of observations."""
        return lambda x, t: self(x, t, obs)


def _time_tensor(t: float | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(t, dtype=like.dtype, device=like.device)


@torch.no_grad()
def scale_output_(net: VelocityNet, gain: float) -> VelocityNet:
    """Multiplies the last linear layer's weights and bias by ``gain`` in place.

    A fresh init outputs near-zero velocities, which makes every integrator look exact; tests and
    benchmarks scale the last layer so outputs are O(1).
    """
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    last.weight.mul_(gain)
    last.bias.mul_(gain)
    return net


class MLPVelocity(VelocityNet):
    """MLP on ``concat(x, obs, time_embedding(t))`` (the authors' architecture).

    The first layer is split into x, obs and time parts — the same function as one linear layer
    on the concatenation — so that :meth:`bind` projects the observation once per pass and each of
    the K time embeddings once per pass.

    Args:
        latent_dim: Width of ``x``.
        obs_dim: Width of the observation.
        hidden: Hidden layer widths.
        activation: Activation name (see ``ACTIVATIONS``).
        time_dim: Width of the time embedding.
    """

    def __init__(
        self,
        latent_dim: int,
        obs_dim: int,
        hidden: Sequence[int] = (400, 200, 100),
        activation: str = "mish",
        time_dim: int = 32,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ConfigError("hidden must name at least one layer width", field="hidden")
        self.latent_dim, self.obs_dim = latent_dim, obs_dim
        self.time_embed = SinusoidalTimeEmbedding(time_dim, activation=activation)
        self.in_x = nn.Linear(latent_dim, hidden[0])
        self.in_obs = nn.Linear(obs_dim, hidden[0], bias=False)
        self.in_t = nn.Linear(time_dim, hidden[0], bias=False)
        self.act = make_activation(activation)
        self.trunk = mlp([*hidden, latent_dim], activation)

    def _time_proj(self, t: float | Tensor, like: Tensor) -> Tensor:
        return self.in_t(self.time_embed(_time_tensor(t, like)))

    def _time_bias(self, t: float, like: Tensor) -> Tensor:
        """``in_t(embed(t)) + in_x.bias`` for a grid time.

        Inside :meth:`VelocityNet.static_parameters` (rollouts, evaluation, export) the K grid values are
        computed once for the whole block instead of once per action; inside :meth:`VelocityNet.shared_terms`
        (one minibatch of an update) once for all its passes, with gradient.
        """
        cache = self._static_cache
        if cache is None or torch.is_grad_enabled():
            shared = self._shared_cache
            if shared is None:
                return self._time_proj(t, like) + self.in_x.bias
            key = (t, like.dtype, like.device, torch.is_grad_enabled())
            if key not in shared:
                shared[key] = self._time_proj(t, like) + self.in_x.bias
            return shared[key]
        key = (t, like.dtype, like.device)
        if key not in cache:
            cache[key] = self._time_proj(t, like) + self.in_x.bias
        return cache[key]

    def forward(self, x: Tensor, t: float | Tensor, obs: Tensor) -> Tensor:
        """Velocity at latent ``x`` [B, d], scalar time ``t``, observation ``obs`` [B, obs_dim]."""
        return self.trunk(self.act(self.in_x(x) + self.in_obs(obs) + self._time_proj(t, x)))

    def bind(self, obs: Tensor) -> VelocityField:
        obs_proj = self.in_obs(obs)
        cache: dict[tuple[float, bool], Tensor] = {}

        def field(x: Tensor, t: float | Tensor) -> Tensor:
            if isinstance(t, float):  # fixed grids revisit the same K times: fold obs, time and bias once per pass
                # Keyed by grad mode too: a value first computed under no_grad (euler's fixed-point
                # loop) must not stand in for a differentiable one later in the same pass.
                key = (t, torch.is_grad_enabled())
                h0 = cache.get(key)
                if h0 is None:
                    h0 = cache[key] = obs_proj + self._time_bias(t, x)
                return self.trunk(self.act(nn.functional.linear(x, self.in_x.weight) + h0))
            return self.trunk(self.act(self.in_x(x) + obs_proj + self._time_proj(t, x)))

        return field


class ResidualBlock(nn.Module):
    """Pre-activation residual block ``h + W2 act(W1 act(LN(h)))``."""

    def __init__(self, width: int, activation: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.body = nn.Sequential(
            make_activation(activation),
            nn.Linear(width, width),
            make_activation(activation),
            nn.Linear(width, width),
        )

    def forward(self, h: Tensor) -> Tensor:
        return h + self.body(self.norm(h))


class ResMLPVelocity(MLPVelocity):
    """Residual-MLP variant: a projection to the stream width, residual blocks, a linear head.

    Args:
        latent_dim: Width of ``x``.
        obs_dim: Width of the observation.
        hidden: One residual block per entry, of that width (a linear map joins blocks of different
            widths), e.g. ``policy.hidden``; None: ``blocks`` blocks of width ``width``.
        width: Width of the residual stream when ``hidden`` is None (default 256).
        blocks: Number of residual blocks when ``hidden`` is None (default 3).
        activation: Activation name.
        time_dim: Width of the time embedding.

    Raises:
        ConfigError: ``hidden`` together with ``width`` or ``blocks``, or non-positive sizes.
    """

    def __init__(
        self,
        latent_dim: int,
        obs_dim: int,
        hidden: Sequence[int] | None = None,
        width: int | None = None,
        blocks: int | None = None,
        activation: str = "mish",
        time_dim: int = 32,
    ) -> None:
        if hidden is not None and (width is not None or blocks is not None):
            raise ConfigError(
                "resmlp takes either hidden (one residual block per width) or width and blocks, not both",
                field="hidden",
            )
        widths = (
            list(hidden)
            if hidden is not None
            else [256 if width is None else width] * (3 if blocks is None else blocks)
        )
        stream = widths[0] if widths else (256 if width is None else width)
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in [*widths, stream]):
            raise ConfigError(
                f"resmlp widths must be positive integers, got {widths or stream!r}",
                field="hidden" if hidden is not None else "width",
            )
        super().__init__(latent_dim, obs_dim, hidden=(stream,), activation=activation, time_dim=time_dim)
        layers: list[nn.Module] = []
        for i, w in enumerate(widths):
            if i and w != widths[i - 1]:
                layers.append(nn.Linear(widths[i - 1], w))
            layers.append(ResidualBlock(w, activation))
        layers += [make_activation(activation), nn.Linear(widths[-1] if widths else stream, latent_dim)]
        self.trunk = nn.Sequential(*layers)
        # The input sum feeds the residual stream directly.
        self.act = nn.Identity()


def _velocity_interface() -> Any:
    from genpo.plugins import Interface

    return Interface(VelocityNet, ("forward",))


VELOCITIES: Registry[type[VelocityNet]] = Registry("velocity network", "velocity", _velocity_interface)
VELOCITIES.add("mlp", MLPVelocity, "MLP on concat(latent, obs, time embedding), Mish, [400, 200, 100] (the authors')")
VELOCITIES.add("resmlp", ResMLPVelocity, "residual MLP: LayerNorm pre-activation blocks of width 256")
