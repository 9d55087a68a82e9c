"""Self-contained policy files (TorchScript, ONNX) with the observation normalizer baked in."""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from genpo.training.actor_critic import ActorCritic

FORMATS = ("torchscript", "onnx")


class DeterministicPolicy(nn.Module):
    """``obs -> action`` from zero noise: what a deployed controller runs."""

    def __init__(self, ac: ActorCritic) -> None:
        super().__init__()
        self.norm, self.policy = ac.obs_norm, ac.policy

    def forward(self, obs: Tensor) -> Tensor:
        return self.policy.to_action(
            self.policy.generate_only(self.norm(obs), obs.new_zeros(obs.shape[0], self.policy.latent_dim))
        )


class StochasticPolicy(nn.Module):
    """``(obs, noise) -> action``: sampling with the noise passed in, so the file stays deterministic and portable."""

    def __init__(self, ac: ActorCritic) -> None:
        super().__init__()
        self.norm, self.policy = ac.obs_norm, ac.policy

    def forward(self, obs: Tensor, noise: Tensor) -> Tensor:
        return self.policy.to_action(self.policy.generate_only(self.norm(obs), noise))


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def export_policy(ac: ActorCritic, out_dir: str | Path, fmt: str = "torchscript") -> list[Path]:
    """Writes ``policy.<ext>`` (deterministic) and ``policy_stochastic.<ext>`` into ``out_dir``.

    Args:
        ac: The trained actor-critic (copied to CPU, float32, eval mode; the original is untouched).
        out_dir: Destination folder (created).
        fmt: ``torchscript`` or ``onnx``.

    Returns:
        The written files.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    ac = copy.deepcopy(ac).cpu().float().eval()
    ac.policy.validate_inputs = False  # data-dependent checks cannot be traced
    out_dir = Path(out_dir)
    obs = torch.zeros(2, ac.policy.obs_dim)
    noise = torch.zeros(2, ac.policy.latent_dim)
    written = []
    for name, module, args in (
        ("policy", DeterministicPolicy(ac), (obs,)),
        ("policy_stochastic", StochasticPolicy(ac), (obs, noise)),
    ):
        target = out_dir / f"{name}.{'pt' if fmt == 'torchscript' else 'onnx'}"
        tmp = _atomic_target(target)
        try:
            with torch.no_grad(), warnings.catch_warnings(), ac.policy.static_parameters():
                warnings.simplefilter("ignore")
                module(*args)  # fills the static caches (flow time embeddings): tracing then folds them in
                if fmt == "torchscript":
                    torch.jit.trace(module, args, check_trace=False).save(str(tmp))
                else:
                    names = ["obs", "noise"][: len(args)]
                    batch = torch.export.Dim("batch")
                    torch.onnx.export(
                        module,
                        args,
                        str(tmp),
                        input_names=names,
                        output_names=["action"],
                        dynamic_shapes={n: {0: batch} for n in names},
                        verbose=False,
                    )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(target)
    return written
