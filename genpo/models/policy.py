"""The one policy interface every family implements (flow, Gaussian, normflows)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import ClassVar

import torch
from torch import Tensor, nn

from genpo.errors import ConfigError
from genpo.inversion.base import std_normal_log_prob


class Policy(nn.Module, ABC):
    """A policy as an invertible map from standard-normal noise to a latent, plus a latent -> action map.

    Families implement :meth:`flow_forward`, :meth:`flow_inverse` and, if the latent is not the
    action, :meth:`to_action`. Everything users call is built here from those three, so every
    family shares input validation and the change-of-variables formula.

    Attributes:
        obs_dim: Observation width.
        action_dim: Action width the environment receives.
        latent_dim: Width of the latent stored in rollouts (``2 * action_dim`` for EDICT).
        doubled_latent: Whether the latent is two copies of the action (the compression loss applies).
        score_shape: Per-sample shape of :meth:`log_weight` (``()``: one score per sample; ``(N,)`` for
            FPO++'s per-draw ratio).
        is_density: Whether :meth:`log_weight` is a log-density (False for ratio surrogates such as FPO's
            ``cfm``: then there is no entropy, and :meth:`log_prob` refuses).
    """

    obs_dim: int
    action_dim: int
    latent_dim: int
    is_density: ClassVar[bool] = True
    score_shape: tuple[int, ...] = ()

    def __init__(self, obs_dim: int, action_dim: int, latent_dim: int) -> None:
        super().__init__()
        for name, val in (("obs_dim", obs_dim), ("action_dim", action_dim)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {val!r}")
        self.obs_dim, self.action_dim, self.latent_dim = obs_dim, action_dim, latent_dim
        self.validate_inputs = True
        self.doubled_latent = False

    # -- implemented by each family -------------------------------------------------------------
    @abstractmethod
    def flow_forward(self, obs: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """Noise -> (latent, log|det d latent / d noise|), both batched over rows."""

    @abstractmethod
    def flow_inverse(self, obs: Tensor, latent: Tensor) -> tuple[Tensor, Tensor]:
        """Latent -> (noise, log|det d noise / d latent|)."""

    def generate_only(self, obs: Tensor, noise: Tensor) -> Tensor:
        """Noise -> latent, without :meth:`~genpo.models.policy.Policy.generate`'s input checks (inner loops call it).

        This default runs ``flow_forward`` and drops its log-det; a family whose map is cheaper without the
        log-det overrides it (``FlowPolicy``: the integrator with ``log_det=False``).
        """
        return self.flow_forward(obs, noise)[0]

    def invert_only(self, obs: Tensor, latent: Tensor) -> Tensor:
        """Latent -> noise, without :meth:`~genpo.models.policy.Policy.invert`'s input checks; the default drops
        ``flow_inverse``'s log-det."""
        return self.flow_inverse(obs, latent)[0]

    def to_action(self, latent: Tensor) -> Tensor:
        """The action the environment receives for a latent."""
        return latent

    @contextmanager
    def static_parameters(self) -> Iterator[None]:
        """Parameters stay fixed inside the block (a rollout, an evaluation, an export trace).

        Parts that can cache parameter-only quantities (velocity networks' time embeddings) do so for
        the block's no-grad passes. Do not step an optimizer inside it.
        """
        with ExitStack() as stack:
            for m in self.modules():
                if m is not self and hasattr(m, "static_parameters"):
                    stack.enter_context(m.static_parameters())
            yield

    @contextmanager
    def shared_terms(self) -> Iterator[None]:
        """The passes inside the block share parameter-only terms, with gradient (one minibatch of an update).

        Parts that can (velocity networks' time embeddings) compute each such term once for every pass of the
        block; the backward pass sums the passes' gradients through it. Leave it before the optimizer steps.
        """
        with ExitStack() as stack:
            for m in self.modules():
                if m is not self and hasattr(m, "shared_terms"):
                    stack.enter_context(m.shared_terms())
            yield

    # -- validation ------------------------------------------------------------------------------
    def _check(self, name: str, x: Tensor, width: int) -> None:
        if not self.validate_inputs:
            return
        if not isinstance(x, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[-1] != width:
            raise ValueError(f"{name} must have shape [batch, {width}], got {list(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or inf values")

    # -- the public interface --------------------------------------------------------------------
    def generate(self, obs: Tensor, noise: Tensor) -> Tensor:
        """Deterministic noise ``[B, latent_dim]`` -> latent ``[B, latent_dim]``."""
        self._check("obs", obs, self.obs_dim)
        self._check("noise", noise, self.latent_dim)
        return self.generate_only(obs, noise)

    def invert(self, obs: Tensor, latent: Tensor) -> Tensor:
        """Latent ``[B, latent_dim]`` -> the noise that generates it."""
        self._check("obs", obs, self.obs_dim)
        self._check("latent", latent, self.latent_dim)
        return self.invert_only(obs, latent)

    def log_prob(self, obs: Tensor, latent: Tensor) -> Tensor:
        """log pi(latent | obs) ``[B]`` by change of variables through the inverse map."""
        self._check("obs", obs, self.obs_dim)
        self._check("latent", latent, self.latent_dim)
        noise, log_det = self.flow_inverse(obs, latent)
        return std_normal_log_prob(noise) + log_det

    def log_weight(self, obs: Tensor, latent: Tensor) -> Tensor:
        """The per-sample score whose new-minus-old difference is PPO's log-ratio ``[B]``.

        :meth:`log_prob` for every density; a ratio surrogate (``cfm``: minus the flow-matching loss)
        overrides it.
        """
        return self.log_prob(obs, latent)

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Draws ``(action [B, action_dim], latent [B, latent_dim], log_weight [B])`` (a log-prob for densities)."""
        self._check("obs", obs, self.obs_dim)
        noise = torch.randn(obs.shape[0], self.latent_dim, generator=generator, dtype=obs.dtype, device=obs.device)
        latent, log_det = self.flow_forward(obs, noise)
        return self.to_action(latent), latent, std_normal_log_prob(noise) - log_det

    def deterministic_action(self, obs: Tensor) -> Tensor:
        """The action generated from zero noise (the mode of the base distribution)."""
        self._check("obs", obs, self.obs_dim)
        noise = obs.new_zeros(obs.shape[0], self.latent_dim)
        return self.to_action(self.generate_only(obs, noise))

    def forward(self, obs: Tensor) -> Tensor:
        """Same as :meth:`deterministic_action` (what export traces)."""
        return self.deterministic_action(obs)

    # -- imitation (genpo pretrain) ---------------------------------------------------------------
    def imitation_objectives(self) -> tuple[str, ...]:
        """The imitation objectives this family offers, its default first (``genpo pretrain --objective``).

        The base class offers ``likelihood``: maximum likelihood of the demonstrated action read as the
        latent, which is right for every family whose latent is the action (Gaussian, normalizing flows).
        A family whose latent is not the action overrides this and :meth:`imitation_loss`.
        """
        return ("likelihood",)

    def check_objective(self, objective: str | None) -> str:
        """``objective``, or the family's default for None; ``ConfigError`` names the allowed ones."""
        allowed = self.imitation_objectives()
        if objective is None:
            return allowed[0]
        if objective not in allowed:
            raise ConfigError(
                f"imitation objective {objective!r} does not apply to this policy ({type(self).__name__}); "
                f"choose one of: {', '.join(allowed)}"
            )
        return objective

    def imitation_loss(
        self, obs: Tensor, actions: Tensor, objective: str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Batch-mean loss of imitating demonstrated ``actions [B, action_dim]`` at (normalized) ``obs``.

        The one extension point of ``genpo pretrain``: it calls this and nothing family-specific. Here:
        ``likelihood``, the negative log-density of the latent at the demonstrated action (the latent is
        the pre-clip action: a demonstration inside the action box is a point of that density).

        Args:
            obs: Observations ``[B, obs_dim]``, normalized as the policy sees them.
            actions: Demonstrated actions ``[B, action_dim]``.
            objective: One of :meth:`imitation_objectives` (None: the default).
            generator: Random stream for objectives that draw noise.
        """
        self.check_objective(objective)
        if self.latent_dim != self.action_dim:
            raise ValueError(
                f"{type(self).__name__} has a {self.latent_dim}-wide latent for {self.action_dim}-wide actions: "
                "maximum likelihood of the action needs the family's own imitation_loss"
            )
        return -self.log_prob(obs, actions).mean()
