"""``genpo bench act``: action latency of a flow policy vs the Gaussian baseline, eager and exported.

Exported files are timed where deployments run them: the TorchScript file in torch, the ONNX file in
onnxruntime (when installed: ``pip install 'genpo[export]'``).
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from genpo.training.actor_critic import ActorCritic
from genpo.training.config import PolicyConfig, build_actor
from genpo.training.export import export_policy


@dataclass
class ActRow:
    """One measured configuration."""

    model: str
    mode: str
    batch: int
    median_ms: float


def _median_ms(fn: Callable[[], object], repeats: int, min_time: float = 0.2) -> float:
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 50 * repeats:
            break
    return 1e3 * statistics.median(times)


def make_actor_critic(model: str, obs_dim: int, action_dim: int, steps: int) -> ActorCritic:
    """A randomly initialised actor-critic at the authors' sizes (outputs scaled to O(1) for flows)."""
    policy = build_actor(PolicyConfig(model=model, flow_steps=steps), obs_dim, action_dim)
    if hasattr(policy, "velocity"):
        from genpo.models.velocity import scale_output_

        scale_output_(policy.velocity, 10.0)
    ac = ActorCritic(policy, None, [400, 200, 100]).eval()
    ac.policy.validate_inputs = False
    return ac


def onnxruntime_available() -> bool:
    """Whether the ONNX rows can be measured here."""
    return importlib.util.find_spec("onnxruntime") is not None


def onnx_session(path: str, threads: int = 1) -> Callable[[object], object]:
    """An onnxruntime CPU session of an exported ``policy.onnx``, as ``obs (numpy) -> action (numpy)``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return lambda obs: sess.run(["action"], {"obs": obs})[0]


@torch.no_grad()
def run(
    obs_dim: int = 17,
    action_dim: int = 6,
    steps: int = 5,
    batches: tuple[int, ...] = (1, 4096),
    repeats: int = 20,
    threads: int = 1,
    onnx: bool | None = None,
) -> list[ActRow]:
    """Measures deterministic-action latency for ``flow`` (EDICT) and ``gaussian``.

    Modes: ``eager`` (PyTorch), ``torchscript`` (the exported ``policy.pt`` in torch) and ``onnx`` (the
    exported ``policy.onnx`` in onnxruntime; ``onnx=None`` measures it when onnxruntime is installed).
    """
    torch.set_num_threads(threads)
    onnx = onnxruntime_available() if onnx is None else onnx
    rows = []
    for model in ("gaussian", "flow"):
        ac = make_actor_critic(model, obs_dim, action_dim, steps)
        with tempfile.TemporaryDirectory() as tmp, ac.policy.static_parameters():
            scripted = torch.jit.load(str(export_policy(ac, tmp, "torchscript")[0]))
            ort_run = onnx_session(str(export_policy(ac, tmp, "onnx")[0]), threads) if onnx else None
            for batch in batches:
                obs = torch.randn(batch, obs_dim)
                rows.append(
                    ActRow(model, "eager", batch, _median_ms(lambda o=obs, m=ac: m.act_deterministic(o), repeats))
                )
                rows.append(ActRow(model, "torchscript", batch, _median_ms(lambda o=obs, s=scripted: s(o), repeats)))
                if ort_run is not None:
                    o_np = obs.numpy()
                    rows.append(ActRow(model, "onnx", batch, _median_ms(lambda o=o_np, f=ort_run: f(o), repeats)))
    return rows
