"""Self-contained policy files (TorchScript, ONNX) with the observation normalizer baked in."""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from genpo.errors import ConfigError
from genpo.training.actor_critic import ActorCritic
from genpo.training.files import atomic_files, disk_cause, ensure_folder, exists, remove_orphans

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


class ExportError(ConfigError):
    """This policy cannot be written in the asked format (the message says why and what works)."""


def _onnx_failure(exc: Exception) -> str:
    """Why the ONNX exporter refused, in one line: the operator it lacks, or the line it cannot trace."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    op = re.search(r"op='([^']+)'", text)
    if op:
        return f"the ONNX exporter has no conversion for the operator {op.group(1)}"
    call = re.search(r'File "([^"]+)", line (\d+), in \w+\n\s*(.+)', text)
    if call:
        where = f"{Path(call.group(1)).name}:{call.group(2)}"
        return f"torch.export cannot trace data-dependent code at {where} ({call.group(3).strip()})"
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _onnx_export(module: nn.Module, args: tuple[Tensor, ...], path: Path) -> None:
    names = ["obs", "noise"][: len(args)]
    batch = torch.export.Dim("batch")
    try:
        # The exporter prints progress and, on failure, whole graphs (print and logging) even when not verbose.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), _quiet_logging():
            torch.onnx.export(
                module,
                args,
                str(path),
                input_names=names,
                output_names=["action"],
                dynamic_shapes={n: {0: batch} for n in names},
                external_data=False,  # one self-contained file: weights inside, nothing hidden next to it
                verbose=False,
            )
    except OSError:
        raise
    except Exception as exc:  # the exporter's own error types
        if disk_cause(exc, path) is not None:
            raise  # the file system failed: atomic_files names the file and removes what was written
        raise ExportError(
            f"this policy cannot be exported to ONNX: {_onnx_failure(exc)}; export it with --format torchscript "
            "(which supports every model)"
        ) from None


def export_policy(ac: ActorCritic, out_dir: str | Path, fmt: str = "torchscript") -> list[Path]:
    """Writes ``policy.<ext>`` (deterministic) and ``policy_stochastic.<ext>`` into ``out_dir``.

    Each file is self-contained (an ONNX file holds its weights; no side data file) and both are
    written atomically together: on any error neither file is replaced and nothing is left behind.

    Args:
        ac: The trained actor-critic (copied to CPU, float32, eval mode; the original is untouched).
        out_dir: Destination folder (created).
        fmt: ``torchscript`` or ``onnx``.

    Returns:
        The written files.

    Raises:
        ExportError: The policy has a layer the format cannot express.
        RunFolderError: ``out_dir`` is a file or cannot be created or written.
        DiskError: The file system failed the write (no space, read-only, ...); neither file is left.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    created = not exists(out_dir)
    out_dir = ensure_folder(out_dir, "export folder")
    remove_orphans(out_dir)
    ac = copy.deepcopy(ac).cpu().float().eval()
    ac.policy.validate_inputs = False  # data-dependent checks cannot be traced
    obs = torch.zeros(2, ac.policy.obs_dim)
    noise = torch.zeros(2, ac.policy.latent_dim)
    variants = (
        ("policy", DeterministicPolicy(ac), (obs,)),
        ("policy_stochastic", StochasticPolicy(ac), (obs, noise)),
    )
    ext = "pt" if fmt == "torchscript" else "onnx"
    targets = [out_dir / f"{name}.{ext}" for name, _, _ in variants]
    try:
        with atomic_files(targets) as tmps:
            for (_, module, args), tmp in zip(variants, tmps, strict=True):
                with torch.no_grad(), warnings.catch_warnings(), ac.policy.static_parameters():
                    warnings.simplefilter("ignore")
                    module(*args)  # fills the static caches (flow time embeddings): tracing then folds them in
                    if fmt == "torchscript":
                        traced = torch.jit.trace(module, args, check_trace=False)
                        with open(tmp, "wb") as f:  # a Python file: a failed write raises its OSError
                            torch.jit.save(traced, f)  # (given a path, torch aborts the process on EFBIG)
                    else:
                        _onnx_export(module, args, tmp)
    except BaseException:
        if created:  # a failed export leaves no trace, not even the folder it made
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    return targets
