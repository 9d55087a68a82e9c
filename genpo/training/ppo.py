"""PPO, the default on-policy algorithm (``algo.name: ppo``): policy-agnostic, Gaussian, flow and normflows alike."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from genpo.errors import RunFailed
from genpo.objectives import (
    AdaptiveLR,
    asymmetric_surrogate,
    clipped_surrogate,
    compression_loss,
    entropy_estimate,
    explained_variance,
    normalize_advantages,
    sample_kl,
    value_loss,
)
from genpo.training.actor_critic import ActorCritic
from genpo.training.algorithm import ALGORITHMS, OnPolicyAlgorithm
from genpo.training.config import AlgoConfig
from genpo.training.distributed import DistInfo, all_reduce_mean, average_gradients
from genpo.training.storage import RolloutStorage


class NonFiniteError(RunFailed):
    """Training produced NaN or inf; the message names the quantity and the iteration."""


def check_finite(x: Tensor, what: str, iteration: int) -> None:
    """Raises :class:`NonFiniteError` if ``x`` holds NaN or inf."""
    if not torch.isfinite(x).all():
        raise NonFiniteError(f"non-finite {what} at iteration {iteration}; stopping (the last checkpoint is intact)")


def compress_rows(batch: int, fraction: float) -> int:
    """Rows of a ``batch``-sample minibatch the compression loss uses: ``ceil(fraction * batch)``, at least 1."""
    return max(1, min(batch, math.ceil(fraction * batch)))


@ALGORITHMS.register("ppo", "PPO with GenPO's compression term and the KL-adaptive learning rate (the default)")
class PPO(OnPolicyAlgorithm):
    """Clipped-surrogate PPO with GenPO's compression term and the KL-adaptive learning rate.

    Args:
        ac: Actor-critic to train.
        cfg: Algorithm settings.
        num_envs: Sub-environments of this rank (the rollout's width).
        device: Where the rollout lives (default: the actor-critic's).
        dist: This process's rank info.
    """

    def __init__(
        self,
        ac: ActorCritic,
        cfg: AlgoConfig,
        num_envs: int = 1,
        device: torch.device | None = None,
        dist: DistInfo | None = None,
    ) -> None:
        device = device if device is not None else next(ac.parameters()).device
        super().__init__(ac, cfg, num_envs, device, dist)
        self.learning_rate = cfg.learning_rate
        # The fused kernel is ~4x faster than the per-tensor loop on CPU (docs/benchmarks.md) and exists on CUDA too.
        self.optimizer = torch.optim.Adam(ac.parameters(), lr=cfg.learning_rate, fused=True)
        self.lr_rule = AdaptiveLR(desired_kl=cfg.desired_kl) if cfg.schedule == "adaptive" else None
        policy = ac.policy
        self.compress = cfg.compress_coef > 0 and policy.doubled_latent  # fields checked by config.PART_RULES
        self.score_name = "log-probability" if policy.is_density else "CFM surrogate score"

    def set_learning_rate(self, lr: float) -> None:
        """Sets the learning rate of every parameter group."""
        self.learning_rate = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        """The optimizer, the learning rate and the reward statistics (checkpoint keys of every genpo version)."""
        return {**super().state_dict(), "learning_rate": self.learning_rate}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`."""
        super().load_state_dict(state)
        self.set_learning_rate(float(state["learning_rate"]))

    def update(self, iteration: int, remaining: float = 1.0) -> dict[str, float]:
        """The schedule's learning rate, :meth:`optimize` on the collected rollout, then an empty rollout.

        ``schedule: linear`` is CleanRL's annealing: ``learning_rate * remaining``, set once per iteration.
        """
        if self.cfg.schedule == "linear":
            self.set_learning_rate(self.cfg.learning_rate * remaining)
        stats = self.optimize(self.storage, iteration)
        self.storage.clear()
        return stats

    def optimize(self, storage: RolloutStorage, iteration: int) -> dict[str, float]:
        """Runs ``num_epochs`` x ``num_minibatches`` gradient steps; returns mean diagnostics.

        Diagnostics stay tensors on the device and are read once per update. Each minibatch reads the host
        once: the finiteness of its score, loss and gradient (the step must not run on non-finite values)
        together with the KL the adaptive schedule needs before the step.
        """
        cfg, ac, policy = self.cfg, self.ac, self.ac.policy
        # Critic warm-up: the actor is out of the loss (its parameters get no gradient, so Adam leaves them
        # bit-identical) and the learning rate does not adapt to a KL that is zero by construction.
        frozen = iteration <= cfg.critic_warmup_iterations
        sums: dict[str, Tensor] = {}
        n = 0
        checks = (self.score_name + " in the update", "loss", "gradient")
        for _ in range(cfg.num_epochs):
            for mb in storage.minibatches(cfg.num_minibatches):
                # The log-prob and compression passes share the time embeddings (one copy, gradients summed).
                with policy.shared_terms():
                    # A log-prob for densities; minus the CFM loss for FPO's surrogate (policy.is_density False).
                    with torch.set_grad_enabled(not frozen):
                        new_log_prob = policy.log_weight(mb["obs"], mb["latents"])
                    adv = normalize_advantages(mb["advantages"]) if cfg.normalize_advantage else mb["advantages"]
                    # Per-draw scores (cfm with per_sample, FPO++) get one ratio each, all with the sample's advantage.
                    adv = adv.reshape(adv.shape + (1,) * len(policy.score_shape))
                    surrogate = asymmetric_surrogate if cfg.trust_region == "aspo" else clipped_surrogate
                    pg_loss, info = surrogate(new_log_prob, mb["log_probs"], adv, cfg.clip_param)
                    values = ac.value(mb["critic_obs"])
                    v_loss = value_loss(values, mb["values"], mb["returns"], cfg.clip_param if cfg.value_clip else None)
                    loss = cfg.value_coef * v_loss if frozen else pg_loss + cfg.value_coef * v_loss
                    entropy = None
                    if policy.is_density:  # a surrogate score is no log-density: no entropy estimate from it
                        entropy = entropy_estimate(new_log_prob)
                        loss = loss if frozen else loss - cfg.entropy_coef * entropy
                    comp = torch.zeros((), device=loss.device)
                    if self.compress and not frozen:
                        # The minibatch is a random draw from the rollout (the run's torch RNG), so its first rows
                        # are a uniform random subset: an unbiased estimate of the full term; fraction 1: all of it.
                        rows = compress_rows(mb["obs"].shape[0], cfg.compress_fraction)
                        noise = torch.randn_like(mb["latents"][:rows])
                        comp = compression_loss(policy.generate_only(mb["obs"][:rows], noise))
                        loss = loss + cfg.compress_coef * comp
                kl = all_reduce_mean(sample_kl(mb["log_probs"], new_log_prob.detach()))

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                average_gradients(ac)
                grad_norm = nn.utils.clip_grad_norm_(ac.parameters(), cfg.max_grad_norm)
                score = new_log_prob.detach()
                flags = torch.stack(
                    [torch.isfinite(score).all(), torch.isfinite(loss.detach()), torch.isfinite(grad_norm)]
                )
                host = torch.cat([flags.to(kl.dtype), kl.detach().reshape(1)]).tolist()
                for ok, what in zip(host[:3], checks, strict=True):
                    if not ok:
                        raise NonFiniteError(
                            f"non-finite {what} at iteration {iteration}; stopping (the last checkpoint is intact)"
                        )
                if self.lr_rule is not None and not frozen:
                    self.set_learning_rate(self.lr_rule(self.learning_rate, host[3]))
                self.optimizer.step()

                step_stats = {
                    "losses/policy_loss": pg_loss.detach(),
                    "losses/value_loss": v_loss.detach(),
                    "losses/compression": comp.detach(),
                    "losses/approx_kl": info["approx_kl"].detach(),
                    "losses/sample_kl": kl.detach(),
                    "losses/clipfrac": info["clipfrac"].detach(),
                    "losses/grad_norm": grad_norm.detach(),
                }
                if entropy is not None:
                    step_stats["losses/entropy"] = entropy.detach()
                else:
                    step_stats["losses/cfm_loss"] = -score.mean()
                for k, v in step_stats.items():
                    sums[k] = sums[k] + v.float() if k in sums else v.float()
                n += 1
        means = torch.stack(list(sums.values())).div(n).tolist()  # the one read of the diagnostics
        out = dict(zip(sums, means, strict=True))
        with torch.no_grad():
            ev = explained_variance(storage.values.flatten(), storage.returns.flatten()).item()
        out["losses/explained_variance"] = ev if math.isfinite(ev) else 0.0
        out["charts/learning_rate"] = self.learning_rate
        return out
