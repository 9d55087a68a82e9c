"""``algo.compress_fraction``: the compression loss on a random share of each minibatch.

Fraction 1 must reproduce the updates from before the field existed bit for bit; other fractions draw
their sub-batch from the run's random stream (the minibatch permutation), so fixed-seed runs repeat and a
resumed run continues the same stream.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

import genpo.training.ppo as ppo_module
from genpo.errors import ConfigError
from genpo.models.policy import Policy
from genpo.training.checkpoint import load_checkpoint
from genpo.training.config import AlgoConfig, TrainConfig
from genpo.training.ppo import compress_rows
from genpo.training.runner import Trainer

SMALL = {
    "env": {"id": "builtin:PointMass", "num_envs": 4},
    "policy": {"hidden": [32, 32], "critic_hidden": [32, 32]},
    "algo": {"steps_per_env": 8, "num_epochs": 2, "num_minibatches": 2},
    "run": {"save_interval": 100, "seed": 3},
}

# parameter_checksum of the SMALL edict run after 3 iterations, computed at ea3a408 (before the field existed,
# when every minibatch's compression loss ran on all of it), torch 2.13 CPU. A change here changes fixed-seed runs.
TODAY_3_ITERATIONS = "ecd876029eeb17bc"


@pytest.fixture
def unshared(monkeypatch):
    """The update as before issue 15: every pass computes its own time embeddings (no shared terms)."""
    monkeypatch.setattr(Policy, "shared_terms", lambda self: contextlib.nullcontext())


def small_cfg(**sections) -> TrainConfig:
    data = {k: dict(v) for k, v in SMALL.items()}
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    cfg = TrainConfig.from_dict(data)
    cfg.validate()
    return cfg


def trained(tmp_path, name: str, **sections) -> Trainer:
    trainer = Trainer(small_cfg(**sections))
    trainer.train(tmp_path / name)
    return trainer


def test_default_fraction_is_a_quarter():
    assert AlgoConfig().compress_fraction == 0.25  # docs/results.md, section 5a


def test_checkpoints_without_the_field_resume_with_the_whole_minibatch():
    from genpo.training.api import resolve_config

    saved = TrainConfig.from_dict(SMALL).to_dict()
    del saved["algo"]["compress_fraction"]  # a checkpoint written before issue 15
    assert resolve_config(checkpoint_config=saved).algo.compress_fraction == 1.0
    saved["algo"]["compress_fraction"] = 0.5
    assert resolve_config(checkpoint_config=saved).algo.compress_fraction == 0.5


def test_fraction_one_reproduces_the_updates_from_before_the_field(tmp_path, unshared):
    trainer = trained(tmp_path, "explicit", algo={"compress_fraction": 1.0}, run={"max_iterations": 3})
    assert trainer.parameter_checksum() == TODAY_3_ITERATIONS


def test_shared_time_terms_match_the_unshared_update_to_float32_rounding(tmp_path, monkeypatch):
    # The shared terms sum the two passes' gradients before the time embedding's backward (not bit for bit).
    # A fixed learning rate: the adaptive rule's thresholds can turn a rounding difference into another step size.
    sections = {"algo": {"schedule": "fixed", "compress_fraction": 1.0}, "run": {"max_iterations": 3}}
    shared = trained(tmp_path, "shared", **sections)
    monkeypatch.setattr(Policy, "shared_terms", lambda self: contextlib.nullcontext())
    unshared = trained(tmp_path, "unshared", **sections)
    for (name, a), b in zip(shared.ac.state_dict().items(), unshared.ac.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_fraction_changes_the_update_and_repeats_with_the_seed(tmp_path):
    a = trained(tmp_path, "a", algo={"compress_fraction": 0.25}, run={"max_iterations": 3})
    b = trained(tmp_path, "b", algo={"compress_fraction": 0.25}, run={"max_iterations": 3})
    assert a.parameter_checksum() == b.parameter_checksum()
    assert a.parameter_checksum() != TODAY_3_ITERATIONS


def test_compression_runs_on_the_first_rows_of_each_minibatch(tmp_path, monkeypatch):
    seen: list[int] = []
    real = ppo_module.compression_loss

    def spy(latent):
        seen.append(latent.shape[0])
        return real(latent)

    monkeypatch.setattr(ppo_module, "compression_loss", spy)
    trained(tmp_path, "r", algo={"compress_fraction": 0.3}, run={"max_iterations": 1})
    # 4 envs x 8 steps in 2 minibatches of 16; ceil(0.3 * 16) = 5 rows, in each of 2 epochs x 2 minibatches.
    assert seen == [5] * 4


@pytest.mark.parametrize(
    ("batch", "fraction", "rows"), [(16, 1.0, 16), (16, 0.25, 4), (16, 0.3, 5), (16, 1e-9, 1), (1, 0.5, 1)]
)
def test_compress_rows(batch, fraction, rows):
    assert compress_rows(batch, fraction) == rows


def test_resume_continues_the_same_stream(tmp_path):
    algo = {"compress_fraction": 0.25}
    full = trained(tmp_path, "full", algo=algo, run={"max_iterations": 4})
    first = trained(tmp_path, "a", algo=algo, run={"max_iterations": 2})
    ckpt = load_checkpoint(tmp_path / "a" / "model_2.pt")
    assert ckpt["config"]["algo"]["compress_fraction"] == 0.25  # saved with the run
    resumed_cfg = TrainConfig.from_dict(ckpt["config"])
    assert resumed_cfg.algo.compress_fraction == 0.25
    torch.manual_seed(12345)  # whatever happens in between must not matter
    second = Trainer(small_cfg(algo=algo, run={"max_iterations": 2}), checkpoint=ckpt)
    second.train(tmp_path / "b")
    assert first.iteration == 2 and second.iteration == full.iteration == 4
    assert second.parameter_checksum() == full.parameter_checksum()


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, float("nan"), float("inf"), True, "half"])
def test_bad_fraction_is_refused_with_the_allowed_range(bad):
    cfg = TrainConfig.from_dict({**SMALL, "algo": {**SMALL["algo"], "compress_fraction": bad}})
    with pytest.raises(ConfigError, match=r"algo.compress_fraction must be a number in \(0, 1\]"):
        cfg.validate()


@pytest.mark.parametrize(
    ("sections", "why"),
    [
        ({"policy": {"model": "gaussian"}}, "no doubled latent"),
        ({"policy": {"integrator": "gaussian-chain"}}, "no doubled latent"),
        ({"algo": {"compress_coef": 0.0}}, "compress_coef is 0"),
    ],
)
def test_fraction_without_a_compression_loss_is_refused_by_validation(sections, why):
    # Refused by TrainConfig.validate (a config.PART_RULES rule), so ablate and tune refuse it before any cell.
    algo = {"compress_fraction": 0.5, **sections.get("algo", {})}
    with pytest.raises(ConfigError, match=f"algo.compress_fraction=0.5 applies to the compression loss.*{why}"):
        small_cfg(**{**sections, "algo": algo})


def test_default_fraction_is_accepted_without_a_compression_loss():
    # The default applies to every model, so it cannot be refused where there is nothing to compress.
    Trainer(small_cfg(policy={"model": "gaussian"}))
    Trainer(small_cfg(algo={"compress_coef": 0.0}))
