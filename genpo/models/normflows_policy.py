"""Conditional normalizing-flow policies built from ``normflows`` layers: NSF (coupling and
autoregressive rational-quadratic splines) and MAF, conditioned on the observation.

Each policy is a stack of ``blocks`` blocks, each an invertible transform of the action that reads
the observation as context, followed by a mixing layer (an LU-parametrised linear map with a fixed
permutation by default, as normflows recommends for NSF). The latent is the action.

Why the layers are chained here rather than through ``nf.ConditionalNormalizingFlow``: its
``forward_and_log_det`` / ``inverse_and_log_det`` accumulate the log-det in a float32
``torch.zeros(len(z))`` even for a float64 model, which truncates it to ~1e-7 relative precision.
The layers themselves keep float64: their log-dets come back in the input dtype, and the only
dtype-less tensors they create per call are the zero log-dets of permutations (exact, and
promoted when added). Their identity initialisations write float64 constants into float32
parameters, so after ``.double()`` the initial map is the identity only to ~1e-8; that changes the
map's parameters, not the exactness of its log-det. Chaining the layers with a log-det
accumulator in the input dtype therefore keeps float64 exactness (the tests check ~1e-9 against
autograd Jacobians).

Direction conventions: in normflows a layer's ``forward`` maps base -> data (noise -> action) and
``inverse`` maps data -> base, each returning the log|det| of its own direction. The spline
wrappers follow that convention; ``MaskedAffineAutoregressive`` is the raw nflows class whose
``forward`` is the one-pass data -> base direction, so it is wrapped in :class:`_Swapped`: that
makes ``log_prob`` one network pass per layer (what PPO evaluates most) and sampling ``action_dim``
passes, as in the MAF paper (and as for the autoregressive spline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import normflows as nf
import torch
from normflows.flows.neural_spline.autoregressive import MaskedPiecewiseRationalQuadraticAutoregressive
from normflows.flows.neural_spline.coupling import PiecewiseRationalQuadraticCDF, PiecewiseRationalQuadraticCoupling
from normflows.utils import splines
from torch import Tensor, nn

from genpo.errors import ConfigError
from genpo.models.factory import MODELS, _simple_builder
from genpo.models.policy import Policy
from genpo.models.velocity import ACTIVATIONS

MIXINGS = ("lu", "permute", "none")
"""Mixing layers between blocks: LU-linear + fixed permutation, fixed permutation only, none."""


def _check_int(name: str, val: object, lo: int, hi: int | None = None) -> int:
    if isinstance(val, bool) or not isinstance(val, int) or val < lo or (hi is not None and val > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ConfigError(f"{name} must be an integer {bound}, got {val!r}", field=name)
    return val


def _check_activation(activation: str) -> type[nn.Module]:
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}", field="activation"
        )
    return ACTIVATIONS[activation]


def _check_mixing(mixing: str) -> str:
    if mixing not in MIXINGS:
        raise ConfigError(f"unknown mixing {mixing!r}; choose one of: {', '.join(MIXINGS)}", field="mixing")
    return mixing


def _check_tail_bound(tail_bound: float) -> float:
    if isinstance(tail_bound, bool) or not isinstance(tail_bound, (int, float)) or not 0 < tail_bound < math.inf:
        raise ConfigError(f"tail_bound must be a finite number > 0, got {tail_bound!r}", field="tail_bound")
    return float(tail_bound)


def _one_width(hidden: int | Sequence[int]) -> int:
    """``policy.hidden`` as a conditioner width: an integer, or a list holding one (``[128]``)."""
    if isinstance(hidden, (list, tuple)):
        if len(hidden) != 1:
            raise ConfigError(
                f"normflows conditioners have one width: hidden must be an integer or [width], got {list(hidden)!r} "
                "(their depth is net_blocks)",
                field="hidden",
            )
        return hidden[0]
    return hidden


def _check_spline_options(
    hidden: int, net_blocks: int, num_bins: int, tail_bound: float, activation: str
) -> tuple[type[nn.Module], float]:
    """Validates the options both spline policies share; returns the activation class and the tail bound."""
    _check_int("hidden", hidden, 1)
    _check_int("net_blocks", net_blocks, 0)
    _check_int("num_bins", num_bins, 2, 1000)
    return _check_activation(activation), _check_tail_bound(tail_bound)


class _Swapped(nf.flows.Flow):
    """Swaps a layer's two directions, passing the context (``nf.flows.Reverse`` drops it)."""

    def __init__(self, flow: nf.flows.Flow) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.flow.inverse(z, context=context)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.flow(z, context=context)


def _low_precision(x: Tensor) -> bool:
    return x.dtype in (torch.float32, torch.float16, torch.bfloat16)


# The rational-quadratic spline's inverse (noise -> action here, i.e. sampling) solves a quadratic
# per element. In float32 the root can land slightly outside [0, 1] in narrow bins with steep knot
# derivatives, which makes the log-det the log of a negative number: NaN log-probs on sampling
# (a few per 1e5 samples with random parameters of scale ~1 and 16 bins). The float64 model is
# unaffected: its root error is ~1e-9 times smaller. These subclasses evaluate only that
# elementwise root solve in float64 for low-precision models (the conditioner networks stay in
# the model's dtype); float64 models take the unchanged normflows path.


class _Float64RootCoupling(PiecewiseRationalQuadraticCoupling):
    def _piecewise_cdf(self, inputs: Tensor, transform_params: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
        if inverse and _low_precision(inputs):
            out, log_det = super()._piecewise_cdf(inputs.double(), transform_params.double(), inverse=True)
            return out.to(inputs.dtype), log_det.to(inputs.dtype)
        return super()._piecewise_cdf(inputs, transform_params, inverse)


class _Float64RootCDF(PiecewiseRationalQuadraticCDF):
    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if not _low_precision(inputs):
            return super().inverse(inputs, context)
        params = (self.unnormalized_widths, self.unnormalized_heights, self.unnormalized_derivatives)
        widths, heights, derivatives = (p.double().expand(inputs.shape[0], *p.shape) for p in params)
        out, log_det = splines.unconstrained_rational_quadratic_spline(
            inputs.double(),
            widths,
            heights,
            derivatives,
            inverse=True,
            tails=self.tails,
            tail_bound=self.tail_bound,
            min_bin_width=self.min_bin_width,
            min_bin_height=self.min_bin_height,
            min_derivative=self.min_derivative,
        )
        return out.to(inputs.dtype), log_det.sum(dim=tuple(range(1, log_det.dim()))).to(inputs.dtype)


class _Float64RootAutoregressive(MaskedPiecewiseRationalQuadraticAutoregressive):
    def _elementwise_inverse(self, inputs: Tensor, autoregressive_params: Tensor) -> tuple[Tensor, Tensor]:
        if _low_precision(inputs):
            out, log_det = super()._elementwise_inverse(inputs.double(), autoregressive_params.double())
            return out.to(inputs.dtype), log_det.to(inputs.dtype)
        return super()._elementwise_inverse(inputs, autoregressive_params)


class _CoupledRQSpline(nf.flows.CoupledRationalQuadraticSpline):
    """normflows' coupling spline layer with the float32 root-solve fix (see above)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Same state, one method overridden: swapping the class keeps normflows' construction.
        self.prqct.__class__ = _Float64RootCoupling
        if self.prqct.unconditional_transform is not None:
            self.prqct.unconditional_transform.__class__ = _Float64RootCDF


class _AutoregressiveRQSpline(nf.flows.AutoregressiveRationalQuadraticSpline):
    """normflows' autoregressive spline layer with the float32 root-solve fix (see above)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.mprqat.__class__ = _Float64RootAutoregressive


class NormflowsPolicy(Policy):
    """A chain of context-conditioned normflows layers from noise to action.

    Subclasses build the blocks; this class chains them in both directions, accumulating the
    log-det in the input dtype and on the input device.

    Args:
        obs_dim: Observation width (the context of every layer).
        action_dim: Action width (= latent width).
        blocks: Number of flow blocks.
        mixing: Layer after each block: ``"lu"`` (LU-linear map with a fixed random permutation,
            normflows' ``LULinearPermute``), ``"permute"`` (fixed random permutation) or ``"none"``.
    """

    def __init__(self, obs_dim: int, action_dim: int, blocks: int, mixing: str) -> None:
        super().__init__(obs_dim, action_dim, action_dim)
        self.blocks = _check_int("blocks", blocks, 1)
        self.mixing = _check_mixing(mixing)
        self.layers = nn.ModuleList()

    def _add_block(self, transform: nf.flows.Flow) -> None:
        self.layers.append(transform)
        if self.mixing == "lu":
            self.layers.append(nf.flows.LULinearPermute(self.action_dim))
        elif self.mixing == "permute" and self.action_dim > 1:
            self.layers.append(nf.flows.Permute(self.action_dim, mode="shuffle"))

    def flow_forward(self, obs: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        z = noise
        log_det = torch.zeros(noise.shape[0], dtype=noise.dtype, device=noise.device)
        for layer in self.layers:
            z, ld = layer(z, context=obs)
            log_det = log_det + ld
        return z, log_det

    def flow_inverse(self, obs: Tensor, latent: Tensor) -> tuple[Tensor, Tensor]:
        z = latent
        log_det = torch.zeros(latent.shape[0], dtype=latent.dtype, device=latent.device)
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z, context=obs)
            log_det = log_det + ld
        return z, log_det


class NSFPolicy(NormflowsPolicy):
    """Coupling rational-quadratic neural spline flow (Durkan et al. 2019) conditioned on obs.

    Each block is a ``normflows.flows.CoupledRationalQuadraticSpline``: half of the action
    dimensions pass through a spline whose knots a residual network computes from the other half
    and the observation; the other half passes through an unconditional spline. Masks alternate
    between blocks. Outside ``[-tail_bound, tail_bound]`` the splines are the identity (linear
    tails), so any action has a finite log-likelihood. Both directions cost one network pass.

    Args:
        obs_dim: Observation width.
        action_dim: Action width.
        blocks: Number of coupling blocks (>= 1).
        hidden: Width of the conditioner networks (>= 1); or ``[width]`` (``policy.hidden``).
        net_blocks: Residual blocks per conditioner network (>= 0).
        num_bins: Spline bins (2 ... 1000; normflows keeps bins at least 1e-3 wide).
        tail_bound: Half-width of the interval the splines act on (> 0).
        activation: Activation name of the conditioner networks.
        mixing: ``"lu"``, ``"permute"`` or ``"none"`` (see :class:`NormflowsPolicy`).

    Raises:
        ValueError: Out-of-range options or unknown names.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        blocks: int = 4,
        hidden: int | Sequence[int] = 128,
        net_blocks: int = 2,
        num_bins: int = 8,
        tail_bound: float = 3.0,
        activation: str = "relu",
        mixing: str = "lu",
    ) -> None:
        super().__init__(obs_dim, action_dim, blocks, mixing)
        hidden = _one_width(hidden)
        act, tail_bound = _check_spline_options(hidden, net_blocks, num_bins, tail_bound, activation)
        for i in range(blocks):
            self._add_block(
                _CoupledRQSpline(
                    action_dim,
                    net_blocks,
                    hidden,
                    num_context_channels=obs_dim,
                    num_bins=num_bins,
                    tails="linear",
                    tail_bound=tail_bound,
                    activation=act,
                    # With one action dimension the mask must transform it (the other mask leaves
                    # nothing to transform and normflows fails on the empty split).
                    reverse_mask=action_dim == 1 or i % 2 == 1,
                )
            )


class AutoregressiveNSFPolicy(NormflowsPolicy):
    """Autoregressive rational-quadratic neural spline flow conditioned on obs.

    Each block is a ``normflows.flows.AutoregressiveRationalQuadraticSpline``: dimension ``i`` of
    the action passes through a spline whose knots a MADE network computes from dimensions
    ``< i`` and the observation. Linear tails outside ``[-tail_bound, tail_bound]``. ``log_prob``
    costs one network pass per block; sampling costs ``action_dim`` passes per block.

    Args:
        obs_dim: Observation width.
        action_dim: Action width.
        blocks: Number of autoregressive blocks (>= 1).
        hidden: Width of the MADE networks (>= 1); or ``[width]`` (``policy.hidden``).
        net_blocks: Residual blocks per MADE network (>= 0).
        num_bins: Spline bins (2 ... 1000).
        tail_bound: Half-width of the interval the splines act on (> 0).
        activation: Activation name of the MADE networks.
        mixing: ``"lu"``, ``"permute"`` or ``"none"`` (see :class:`NormflowsPolicy`).

    Raises:
        ValueError: Out-of-range options or unknown names.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        blocks: int = 4,
        hidden: int | Sequence[int] = 128,
        net_blocks: int = 2,
        num_bins: int = 8,
        tail_bound: float = 3.0,
        activation: str = "relu",
        mixing: str = "lu",
    ) -> None:
        super().__init__(obs_dim, action_dim, blocks, mixing)
        hidden = _one_width(hidden)
        act, tail_bound = _check_spline_options(hidden, net_blocks, num_bins, tail_bound, activation)
        for _ in range(blocks):
            self._add_block(
                _AutoregressiveRQSpline(
                    action_dim,
                    net_blocks,
                    hidden,
                    num_context_channels=obs_dim,
                    num_bins=num_bins,
                    tail_bound=tail_bound,
                    activation=act,
                )
            )


class MAFPolicy(NormflowsPolicy):
    """Masked autoregressive flow (Papamakarios et al. 2017) conditioned on obs.

    Each block is an affine autoregressive map (``normflows.flows.MaskedAffineAutoregressive``)
    that sends its input ``x`` towards the noise as ``u_i = scale_i * x_i + shift_i``, with
    ``scale_i`` in (1e-3, 1.001) and both computed by a MADE network from ``x_{<i}`` and the
    observation. ``log_prob`` costs one network pass per block; sampling costs ``action_dim``
    passes per block.

    Args:
        obs_dim: Observation width.
        action_dim: Action width.
        blocks: Number of autoregressive blocks (>= 1).
        hidden: Width of the MADE networks (>= 1); or ``[width]`` (``policy.hidden``).
        net_blocks: Residual blocks per MADE network (>= 0).
        activation: Activation name of the MADE networks.
        mixing: ``"lu"``, ``"permute"`` or ``"none"`` (see :class:`NormflowsPolicy`).

    Raises:
        ValueError: Out-of-range options or unknown names.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        blocks: int = 4,
        hidden: int | Sequence[int] = 128,
        net_blocks: int = 2,
        activation: str = "relu",
        mixing: str = "lu",
    ) -> None:
        super().__init__(obs_dim, action_dim, blocks, mixing)
        hidden = _one_width(hidden)
        _check_int("hidden", hidden, 1)
        _check_int("net_blocks", net_blocks, 0)
        act = _check_activation(activation)
        for _ in range(blocks):
            maf = nf.flows.MaskedAffineAutoregressive(
                action_dim, hidden, context_features=obs_dim, num_blocks=net_blocks, activation=act()
            )
            self._add_block(_Swapped(maf))


MODELS.add("nsf", _simple_builder(NSFPolicy), "coupling rational-quadratic spline flow (normflows), obs-conditioned")
MODELS.add(
    "nsf-ar",
    _simple_builder(AutoregressiveNSFPolicy),
    "autoregressive rational-quadratic spline flow (normflows), obs-conditioned",
)
MODELS.add("maf", _simple_builder(MAFPolicy), "masked autoregressive affine flow (normflows), obs-conditioned")
