"""Exported policies (TorchScript, ONNX) reproduce the live policy, normalizer included."""

from __future__ import annotations

import pytest
import torch

from genpo.training.actor_critic import ActorCritic
from genpo.training.config import PolicyConfig, build_actor
from genpo.training.export import export_policy


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
