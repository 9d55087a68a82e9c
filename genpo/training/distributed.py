"""torch.distributed plumbing: one process per rank, launched by torchrun (NCCL on CUDA, gloo on CPU)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist
from torch import Tensor, nn

from genpo.errors import ConfigError

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class DistInfo:
    """Where this process stands in the job.

    Attributes:
        rank: Global rank.
        world_size: Number of processes.
        local_rank: Rank on this node (picks ``cuda:LOCAL_RANK``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or dist.is_initialized()

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether the torchrun environment variables are present."""
    return all(v in os.environ for v in TORCHRUN_VARS)


def init_distributed(device: str) -> tuple[DistInfo, str]:
    """Joins the process group torchrun set up; returns the rank info and this rank's device.

    Raises:
        ConfigError: When not started by torchrun (``--distributed`` needs its environment), or CUDA is asked
            for and absent.
    """
    if not launched_by_torchrun():
        missing = [v for v in TORCHRUN_VARS if v not in os.environ]
        raise ConfigError(
            "--distributed needs the environment torchrun provides (missing: " + ", ".join(missing) + "); launch with "
            "`torchrun --nproc_per_node=N -m genpo train ... --distributed` or use `genpo train --nproc N`"
        )
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but torch sees no CUDA device", field="run.device")
        device = f"cuda:{info.local_rank}"
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return info, device


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum over ranks (a no-op in a single process)."""
    if dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def all_reduce_mean(x: Tensor) -> Tensor:
    """Mean over ranks (a no-op in a single process)."""
    if dist.is_initialized():
        return all_reduce_sum(x) / dist.get_world_size()
    return x


def average_gradients(module: nn.Module) -> None:
    """Averages gradients over ranks with one flat all-reduce (missing grads count as zero)."""
    if not dist.is_initialized():
        return
    params = [p for p in module.parameters() if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copies parameters and buffers of rank ``src`` to every rank."""
    if not dist.is_initialized():
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=src)


def shutdown() -> None:
    """Leaves the process group if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()


def run_rank(main: Callable[[], object]) -> NoReturn:
    """Runs one torchrun rank's command, then ends the process with its exit status, skipping interpreter teardown.

    torch keeps the gloo process group's threads running after ``destroy_process_group`` once modules it imports
    lazily (the first optimizer's construction imports ``torch._dynamo``, which imports
    ``torch.distributed._shard``) were loaded after the group was made (torch 2.13). Tearing the interpreter
    down with those threads alive aborted a finished job about 1 run in 60 (``terminate called without an
    active exception``, SIGABRT, measured with the two-process test command). By the time ``main`` returns,
    everything genpo writes is closed, so the rank flushes its output and leaves with ``os._exit``.

    Args:
        main: The command (``genpo.cli.main.main``); its ``SystemExit`` code becomes the exit status, and an
            exception that escapes it prints its traceback and exits 1.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:  # whatever escaped, the rank still leaves without teardown
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
