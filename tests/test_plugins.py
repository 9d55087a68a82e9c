"""User parts from a package written here: dotted paths and entry points through the real ``genpo`` command.

The package (a FiLM-conditioned velocity network, an integrator, a likelihood estimator, an environment
factory) lives in a temporary folder on ``PYTHONPATH``; its entry points are real: a ``.dist-info`` folder
with ``METADATA`` and ``entry_points.txt`` next to it, which ``importlib.metadata`` finds on the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from genpo.errors import PluginError
from genpo.training import api
from genpo.training.checkpoint import load_checkpoint, save_checkpoint

NETS = '''
import torch
from torch import nn

from genpo.models import VelocityNet


class FiLMVelocity(VelocityNet):
    """FiLM: the observation scales and shifts the hidden layer of an MLP on (x, t)."""

    def __init__(self, latent_dim, obs_dim, hidden=(32,), activation="tanh"):
        super().__init__()
        self.latent_dim, self.obs_dim = latent_dim, obs_dim
        self.hidden, self.activation = tuple(hidden), activation
        self.inp = nn.Linear(latent_dim + 1, hidden[0])
        self.film = nn.Linear(obs_dim, 2 * hidden[0])
        self.out = nn.Linear(hidden[0], latent_dim)

    def forward(self, x, t, obs):
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(1, 1).expand(x.shape[0], 1)
        scale, shift = self.film(obs).chunk(2, dim=-1)
        return self.out(torch.tanh(self.inp(torch.cat([x, tt], dim=-1)) * (1 + scale) + shift))


class NoForward(VelocityNet):
    """Forgot forward."""

    def __init__(self, latent_dim, obs_dim):
        super().__init__()
        self.latent_dim, self.obs_dim = latent_dim, obs_dim
'''

STEPS = '''
from genpo.inversion.doubled import DoubledIntegrator, join_halves, split_halves


class ShearIntegrator(DoubledIntegrator):
    """x += dt v(y, t); y += dt v(x, t): volume preserving on the doubled latent."""

    name = "shear"
    exact_log_det = True

    def forward(self, field, noise, *, log_det=True, divergence=None):
        x, y = split_halves(noise)
        for t in self.times():
            x = x + self.dt * field(y, t)
            y = y + self.dt * field(x, t)
        return join_halves(x, y), noise.new_zeros(noise.shape[0]) if log_det else None

    def inverse(self, field, latent, *, log_det=True, divergence=None):
        x, y = split_halves(latent)
        for t in reversed(self.times()):
            y = y - self.dt * field(x, t)
            x = x - self.dt * field(y, t)
        return join_halves(x, y), latent.new_zeros(latent.shape[0]) if log_det else None
'''

EST = '''
from genpo.inversion import LikelihoodEstimator


class OwnLogDet(LikelihoodEstimator):
    """Delegates to the integrator's own exact log-det."""

    name = "own"

    def compatible(self, integrator):
        return integrator.exact_log_det

    def forward(self, integrator, field, noise):
        return integrator.forward(field, noise)

    def inverse(self, integrator, field, latent):
        return integrator.inverse(field, latent)
'''

ENVS = '''
from genpo.envs.builtin import make_builtin_env


def make_env(num_envs, seed=None, device="cpu", **options):
    """PointMass, through a user factory."""
    return make_builtin_env("PointMass", num_envs=num_envs, seed=seed, device=device, **options)
'''

ALGOS = '''
import torch

from genpo.training.algorithm import OnPolicyAlgorithm


class CriticOnly(OnPolicyAlgorithm):
    """Fits the critic to the rollout's returns with the actor frozen (a fine-tuning warm-up)."""

    def __init__(self, ac, cfg, num_envs, device, dist=None):
        super().__init__(ac, cfg, num_envs, device, dist)
        self.optimizer = torch.optim.Adam(ac.critic.parameters(), lr=cfg.learning_rate)

    def update(self, iteration, remaining=1.0):
        total = torch.zeros(())
        for _ in range(self.cfg.num_epochs):
            for mb in self.storage.minibatches(self.cfg.num_minibatches):
                loss = (self.ac.value(mb["critic_obs"]) - mb["returns"]).pow(2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                total += loss.detach()
        self.storage.clear()
        return {"losses/value_loss": total.item() / (self.cfg.num_epochs * self.cfg.num_minibatches)}


class NoUpdate(OnPolicyAlgorithm):
    """Forgot update."""
'''

ENTRY_POINTS = """\
[genpo.plugins]
velocity.film = userpkg.nets:FiLMVelocity
integrator.shear = userpkg.steps:ShearIntegrator
likelihood.own = userpkg.est:OwnLogDet
algorithm.critic-only = userpkg.algos:CriticOnly
"""

TINY = {
    "env": {"id": "builtin:PointMass", "num_envs": 4},
    "policy": {"critic_hidden": [16], "hidden": [24]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "run": {"max_iterations": 1},
}
DOTTED = [
    "--velocity",
    "userpkg.nets:FiLMVelocity",
    "--integrator",
    "userpkg.steps:ShearIntegrator",
    "--likelihood",
    "userpkg.est:OwnLogDet",
]
MODULES = ["--plugin", "userpkg.nets", "--plugin", "userpkg.steps", "--plugin", "userpkg.est"]


def write_package(root: Path) -> None:
    pkg = root / "userpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, text in {"nets": NETS, "steps": STEPS, "est": EST, "envs": ENVS, "algos": ALGOS}.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))
    (pkg / "bad_import.py").write_text("raise RuntimeError('boom at import')\n")


@pytest.fixture
def user(tmp_path: Path):
    """Runs ``genpo ARGS`` with the user package on the path; ``user.entry_points()`` installs its entry points."""

    class User:
        root = tmp_path / "site"
        logs = tmp_path / "logs"
        config = tmp_path / "tiny.yaml"

        def __init__(self) -> None:
            write_package(self.root)
            self.config.write_text(yaml.safe_dump(TINY))

        def entry_points(self) -> None:
            info = self.root / "userpkg_plugin-0.1.dist-info"
            info.mkdir()
            (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userpkg-plugin\nVersion: 0.1\n")
            (info / "entry_points.txt").write_text(ENTRY_POINTS)

        def __call__(self, *args: str) -> subprocess.CompletedProcess:
            path = os.pathsep.join([str(self.root), os.environ.get("PYTHONPATH", "")])
            env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
            return subprocess.run(
                [sys.executable, "-m", "genpo", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=180,
                cwd=tmp_path,
            )

        def train(self, *args: str) -> subprocess.CompletedProcess:
            return self("train", "--config", str(self.config), "--logdir", str(self.logs), *args)

        def runs(self) -> list[Path]:
            root = self.logs / "genpo"
            return sorted(p for p in root.glob("*/*") if p.is_dir()) if root.is_dir() else []

    return User()


def _ok(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


def test_dotted_paths_train_resume_play_and_export(user):
    _ok(user.train(*DOTTED))
    (run,) = user.runs()
    saved = yaml.safe_load((run / "params" / "config.yaml").read_text())
    assert saved["policy"]["velocity"] == "userpkg.nets:FiLMVelocity"
    ckpt = load_checkpoint(run / "model_1.pt")
    assert ckpt["model_state"]["policy.velocity.film.weight"].shape[0] == 2 * 24  # policy.hidden reached FiLM

    # The checkpoint names user modules: it is rebuilt only where the user names them again.
    refused = user("play", "--checkpoint", str(run), "--episodes", "1")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "would import module 'userpkg" in refused.stdout and "--plugin userpkg" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr

    assert "return over 2 episodes" in _ok(user("play", "--checkpoint", str(run), "--episodes", "2", *MODULES))
    _ok(user("export", "--checkpoint", str(run), *MODULES))
    assert (run / "exported" / "policy.pt").is_file()
    _ok(user.train("--checkpoint", str(run), *MODULES))
    _ok(user.train("--checkpoint", "latest", *DOTTED))  # naming the parts again names their modules too
    assert len(user.runs()) == 3 and (user.runs()[-1] / "model_3.pt").is_file()


def test_dotted_environment_factory_and_plugin_module(user):
    _ok(user.train("--env", "userpkg.envs:make_env"))
    (run,) = user.runs()
    assert run.parent.name == "userpkg.envs_make_env"
    assert "return over 1 episodes" in _ok(
        user("play", "--checkpoint", str(run), "--episodes", "1", "--plugin", "userpkg.envs")
    )


def test_entry_points_train_list_and_reload_without_naming(user):
    user.entry_points()
    listing = _ok(user("list"))
    assert "film" in listing and "entry point of userpkg-plugin" in listing
    _ok(user.train("--velocity", "film", "--integrator", "shear", "--likelihood", "own"))
    (run,) = user.runs()
    # An installed plug-in is trusted: play, export and resume need nothing named.
    _ok(user("play", "--checkpoint", str(run), "--episodes", "1"))
    _ok(user("export", "--checkpoint", str(run)))
    _ok(user.train("--checkpoint", str(run)))


def test_an_algorithm_from_a_plugin_package_trains_lists_and_resumes(user):
    user.entry_points()
    assert "critic-only" in _ok(user("list")) and "entry point of userpkg-plugin" in _ok(user("list"))
    _ok(user.train("--set", "algo.name=critic-only"))
    (run,) = user.runs()
    assert yaml.safe_load((run / "params" / "config.yaml").read_text())["algo"]["name"] == "critic-only"
    assert "optimizer_state" in load_checkpoint(run / "model_1.pt")
    _ok(user.train("--checkpoint", str(run)))  # an installed plug-in is trusted: resume names nothing
    assert (user.runs()[-1] / "model_2.pt").is_file()
    refused = user.train("--checkpoint", str(run), "--set", "algo.name=ppo")
    assert refused.returncode == 2 and "trained by algorithm 'critic-only'" in refused.stdout, refused.stdout


def test_a_dotted_algorithm_trains_the_critic_and_leaves_the_actor(tmp_path, monkeypatch):
    from genpo.training.config import TrainConfig
    from genpo.training.runner import Trainer

    write_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    data = {k: dict(v) for k, v in TINY.items()}
    data["algo"]["name"] = "userpkg.algos:CriticOnly"
    cfg = TrainConfig.from_dict(data)
    cfg.validate()
    trainer = Trainer(cfg)
    before = {k: v.clone() for k, v in trainer.ac.state_dict().items()}
    trainer.train(tmp_path / "run")
    after = trainer.ac.state_dict()
    actor = [k for k in before if k.startswith("policy.")]
    critic = [k for k in before if k.startswith("critic.")]
    assert actor and critic
    assert all(torch.equal(before[k], after[k]) for k in actor)
    assert not any(torch.equal(before[k], after[k]) for k in critic)
    assert (tmp_path / "run" / "model_1.pt").is_file()


BROKEN = [
    ({"velocity": "nopkg.nets:FiLM"}, "cannot import module 'nopkg.nets': ModuleNotFoundError"),
    ({"velocity": "userpkg.nets:Missing"}, "module 'userpkg.nets' has no attribute 'Missing'"),
    ({"velocity": "userpkg.nets:NoForward"}, "lacks forward of the genpo.models.velocity.VelocityNet"),
    ({"integrator": "userpkg.nets:FiLMVelocity"}, "does not derive from genpo.inversion.base.Integrator"),
    ({"likelihood": "userpkg.bad_import:X"}, "RuntimeError: boom at import"),
    ({"model": "userpkg.est:OwnLogDet"}, "does not derive from genpo.models.policy.Policy"),
    ({"env": "userpkg.envs:nothing"}, "has no attribute 'nothing'"),
    ({"plugins": ["userpkg.bad_import"]}, "run.plugins: cannot import module 'userpkg.bad_import'"),
    ({"algo": {"name": "userpkg.algos:NoUpdate"}}, "lacks update of the genpo.training.algorithm.OnPolicyAlgorithm"),
]


@pytest.mark.parametrize(("override", "message"), BROKEN)
def test_broken_plugins_are_refused_before_any_work(tmp_path, monkeypatch, override, message):
    write_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "userpkg" or m.startswith("userpkg.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(PluginError) as err:
        api.prepare(TINY, logdir=str(tmp_path / "logs"), **override)
    assert message in str(err.value)
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--velocity", "userpkg.nets:NoForward"), "lacks forward"),
        (("--set", "algo.name=nosuch"), "unknown algorithm 'nosuch'; choose one of: ppo or a dotted path"),
    ],
)
def test_a_broken_plugin_or_unknown_part_exits_2_without_traceback_or_folder(user, args, message):
    proc = user.train(*args)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert message in out and "Traceback" not in out
    assert not user.logs.exists()


def test_a_checkpoint_never_imports_a_module_nobody_named(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evilmod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = {k: dict(v) for k, v in TINY.items()}
    cfg["run"]["logdir"] = str(tmp_path / "logs")
    result = api.train(cfg, console=None)
    ckpt = load_checkpoint(result.run_dir / "model_1.pt")
    for field, value in (("env", {"id": "gym:evilmod:Evil-v0"}), ("policy", {"velocity": "evilmod:Net"})):
        crafted = {**ckpt, "config": {**ckpt["config"], field: {**ckpt["config"][field], **value}}}
        crafted.pop("format_version")
        path = save_checkpoint(crafted, tmp_path / f"crafted_{field}.pt")
        with pytest.raises(PluginError, match=r"would import module 'evilmod'.*--plugin evilmod"):
            api.load(path)
        with pytest.raises(PluginError, match="would import module 'evilmod'"):
            api.prepare(checkpoint=path)  # resume: the checkpoint's configuration is used as it is
    crafted = {**ckpt, "config": {**ckpt["config"], "run": {**ckpt["config"]["run"], "plugins": ["evilmod"]}}}
    crafted.pop("format_version")
    with pytest.raises(PluginError, match=r"run\.plugins"):
        api.load(save_checkpoint(crafted, tmp_path / "crafted_run.pt"))
    assert not marker.exists() and "evilmod" not in sys.modules
    # Named by the user, the same module is imported.
    ac, _ = api.load(tmp_path / "crafted_run.pt", plugins=["evilmod"])
    assert marker.exists() and isinstance(ac, torch.nn.Module)


def test_an_installed_env_backend_and_model_resolve_in_process(tmp_path, monkeypatch):
    import importlib

    from genpo.envs import ENV_BACKENDS, make_env
    from genpo.models import MODELS, make_policy

    pkg = tmp_path / "epbackend"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            '''
            from genpo.envs.builtin import make_builtin_env
            from genpo.models.gaussian import GaussianPolicy


            def make_backend(task, num_envs=1, seed=None, device="cpu", **options):
                """The built-in tasks under another backend name."""
                return make_builtin_env(task, num_envs=num_envs, seed=seed, device=device, **options)


            class WideGaussian(GaussianPolicy):
                """A Gaussian policy with a wider default mean network."""

                def __init__(self, obs_dim, action_dim, hidden=(64, 64), init_log_std=-0.5):
                    super().__init__(obs_dim, action_dim, hidden=hidden, init_log_std=init_log_std)
            '''
        )
    )
    info = tmp_path / "epbackend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: epbackend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[genpo.plugins]\nenv.epsim = epbackend:make_backend\nmodel.wide-gaussian = epbackend:WideGaussian\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    env = make_env("epsim:PointMass", num_envs=2, seed=0)
    try:
        assert env.reset()[0].shape == (2, env.observation_dim)
    finally:
        env.close()
    assert ENV_BACKENDS.find("epsim").origin == "entry point of epbackend (epbackend:make_backend)"
    policy = make_policy(3, 2, model="wide-gaussian", init_log_std=-1.0)
    assert policy.log_std.detach().eq(-1.0).all() and MODELS.find("wide-gaussian").origin.startswith("entry point")
