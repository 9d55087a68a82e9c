"""Exported policies (TorchScript, ONNX) reproduce the live policy, normalizer included."""

from __future__ import annotations

import os

import pytest
import torch

from genpo.errors import RunFolderError
from genpo.training.actor_critic import ActorCritic
from genpo.training.config import PolicyConfig, build_actor
from genpo.training.export import ExportError, export_policy


def trained_like_ac(model: str) -> ActorCritic:
    torch.manual_seed(0)
    policy = build_actor(PolicyConfig(model=model, hidden=[32, 32]), obs_dim=5, action_dim=3)
    ac = ActorCritic(policy, None, [16])
    ac.obs_norm.update(torch.randn(500, 5) * 3.0 + 1.0)  # a normalizer far from identity
    with torch.no_grad():
        for prm in ac.policy.parameters():
            prm.add_(0.1 * torch.randn_like(prm))  # O(1) outputs, not a fresh init
    return ac.eval()


@pytest.mark.parametrize("model", ["flow", "gaussian"])
def test_torchscript_roundtrip(tmp_path, model):
    ac = trained_like_ac(model)
    det, sto = export_policy(ac, tmp_path, "torchscript")
    obs = torch.randn(7, 5) * 3.0 + 1.0
    noise = torch.randn(7, ac.policy.latent_dim)
    with torch.no_grad():
        expected = ac.act_deterministic(obs)
        expected_sto = ac.policy.to_action(ac.policy.generate(ac.obs_norm(obs), noise))
    assert expected.abs().mean() > 0.05
    torch.testing.assert_close(torch.jit.load(str(det))(obs), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.jit.load(str(sto))(obs, noise), expected_sto, atol=1e-5, rtol=1e-5)


def test_onnx_roundtrip(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the 'export' extra")
    ac = trained_like_ac("flow")
    det, sto = export_policy(ac, tmp_path, "onnx")
    obs = torch.randn(4, 5) * 3.0 + 1.0
    noise = torch.randn(4, ac.policy.latent_dim)
    with torch.no_grad():
        expected = ac.act_deterministic(obs).numpy()
        expected_sto = ac.policy.to_action(ac.policy.generate(ac.obs_norm(obs), noise)).numpy()
    got = ort.InferenceSession(str(det)).run(None, {"obs": obs.numpy()})[0]
    got_sto = ort.InferenceSession(str(sto)).run(None, {"obs": obs.numpy(), "noise": noise.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(expected), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.from_numpy(got_sto), torch.from_numpy(expected_sto), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_is_self_contained_with_normal_modes_and_leaves_nothing_else(tmp_path, fmt):
    pytest.importorskip("onnxscript", reason="ONNX export comes with the 'export' extra")
    ac = trained_like_ac("gaussian")
    old = os.umask(0o022)
    try:
        written = export_policy(ac, tmp_path / "out", fmt)
        export_policy(ac, tmp_path / "out", fmt)  # a re-export replaces the files, adds nothing
    finally:
        os.umask(old)
    ext = "pt" if fmt == "torchscript" else "onnx"
    assert sorted(os.listdir(tmp_path / "out")) == [f"policy.{ext}", f"policy_stochastic.{ext}"]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in written)


def test_onnx_refusal_names_the_operator_and_writes_nothing(tmp_path):
    pytest.importorskip("onnxscript", reason="ONNX export comes with the 'export' extra")
    policy = build_actor(
        PolicyConfig(model="nsf", hidden=[8], options={"blocks": 1, "net_blocks": 0, "num_bins": 2}),
        obs_dim=4,
        action_dim=2,
    )
    ac = ActorCritic(policy, None, [16])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "policy.onnx").write_bytes(b"an older export")
    with pytest.raises(ExportError, match=r"cannot be exported to ONNX: .*linalg_solve_triangular.*torchscript"):
        export_policy(ac, tmp_path / "out", "onnx")
    assert sorted(os.listdir(tmp_path / "out")) == ["policy.onnx"]
    assert (tmp_path / "out" / "policy.onnx").read_bytes() == b"an older export"


def test_output_that_is_a_file_or_unwritable_is_a_clear_error(tmp_path, monkeypatch):
    ac = trained_like_ac("gaussian")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        export_policy(ac, tmp_path / "file", "torchscript")
    with pytest.raises(RunFolderError, match="a part of that path is a file"):
        export_policy(ac, tmp_path / "file" / "sub", "torchscript")

    def denied(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(RunFolderError, match=r"policy\.pt.*permission denied"):
        export_policy(ac, tmp_path / "out", "torchscript")
    monkeypatch.undo()
    assert not (tmp_path / "out").exists()  # the folder the failed export made is gone too


class _Recorder:
    """PointMass (1-D) with two derived observation dims appended; records what the policy saw and did."""

    observation_dim = 5

    def __init__(self) -> None:
        from genpo.envs.builtin import PointMassEnv

        self.inner = PointMassEnv(3, dim=1, episode_length=5)
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _widen(self, obs):
        self.last = torch.cat([obs, obs[:, :2] * 2.0 + 1.0], dim=1)
        return self.last

    def reset(self, seed=None):
        obs, extras = self.inner.reset(seed=seed)
        return self._widen(obs), extras

    def step(self, action):
        self.seen.append((self.last, action.clone()))
        obs, *rest = self.inner.step(action)
        return (self._widen(obs), *rest)


def test_a_copied_onnx_file_runs_alone_and_matches_play(tmp_path):
    import shutil

    ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the 'export' extra")
    from genpo.training.evaluate import evaluate  # the loop `genpo play` runs

    torch.manual_seed(0)
    ac = ActorCritic(build_actor(PolicyConfig(model="flow", hidden=[32, 32]), obs_dim=5, action_dim=1), None, [16])
    ac.obs_norm.update(torch.randn(500, 5) * 3.0 + 1.0)
    (det, _) = export_policy(ac.eval(), tmp_path / "exported", "onnx")
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(det, deploy / "controller.onnx")  # the visible file alone, renamed, the original folder gone
    shutil.rmtree(tmp_path / "exported")
    sess = ort.InferenceSession(str(deploy / "controller.onnx"))
    env = _Recorder()
    evaluate(ac, env, deterministic=True, seed=3)
    assert len(env.seen) == 5
    for obs, action in env.seen:
        got = torch.from_numpy(sess.run(["action"], {"obs": obs.numpy()})[0])
        torch.testing.assert_close(got, action, atol=1e-5, rtol=1e-5)


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="torchscript, onnx"):
        export_policy(trained_like_ac("gaussian"), tmp_path, "tflite")


ZOO = {
    "reversible-heun": {"integrator": "reversible-heun"},
    "reversible-rk": {"integrator": "reversible-rk", "options": {"tableau": "midpoint"}},
    "gaussian-chain": {"integrator": "gaussian-chain"},
    "gaussian-chain-learned": {"integrator": "gaussian-chain", "options": {"noise": "learned"}},
    "cfm": {"integrator": "euler", "likelihood": "cfm", "options": {"mc_samples": 4}},
}


# ONNX export takes seconds per file: it is checked for the members with a new structure (a learned part, draws).
ZOO_EXPORTS = [(n, "torchscript") for n in ZOO] + [("gaussian-chain-learned", "onnx"), ("cfm", "onnx")]


@pytest.mark.parametrize(("name", "fmt"), ZOO_EXPORTS)
def test_zoo_members_export(tmp_path, name, fmt):
    """The newer integrators and the cfm surrogate export like any flow (the surrogate's draws are inert)."""
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the 'export' extra")
    torch.manual_seed(0)
    ac = ActorCritic(build_actor(PolicyConfig(hidden=[32, 32], **ZOO[name]), obs_dim=5, action_dim=3), None, [16])
    with torch.no_grad():
        for prm in ac.policy.parameters():
            prm.add_(0.1 * torch.randn_like(prm))
    ac.eval()
    det, sto = export_policy(ac, tmp_path, fmt)
    obs = torch.randn(4, 5)
    noise = torch.randn(4, ac.policy.latent_dim)
    with torch.no_grad():
        expected = ac.act_deterministic(obs)
        expected_sto = ac.policy.to_action(ac.policy.generate(ac.obs_norm(obs), noise))
    if fmt == "torchscript":
        got, got_sto = torch.jit.load(str(det))(obs), torch.jit.load(str(sto))(obs, noise)
    else:
        got = torch.from_numpy(ort.InferenceSession(str(det)).run(None, {"obs": obs.numpy()})[0])
        feeds = {"obs": obs.numpy(), "noise": noise.numpy()}
        got_sto = torch.from_numpy(ort.InferenceSession(str(sto)).run(None, feeds)[0])
    assert expected.shape == (4, 3)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_sto, expected_sto, atol=1e-5, rtol=1e-5)
