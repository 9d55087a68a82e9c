"""``genpo train`` end to end in a subprocess: every integrator × estimator pair, the baselines, bad input."""

from __future__ import annotations

import pytest
import torch
import yaml

from genpo.inversion import INTEGRATORS, LIKELIHOODS

PAIRS = [
    (i, e)
    for i in INTEGRATORS.names()
    for e in LIKELIHOODS.names()
    if LIKELIHOODS.get(e)().compatible(INTEGRATORS.get(i)())
]


@pytest.fixture
def train(tmp_path, tiny_config, genpo_cli):
    """``genpo train`` on InvertedPendulum with a tiny budget, plus extra arguments."""

    def run(*extra):
        return genpo_cli(
            "train",
            "--env",
            "gym:InvertedPendulum-v5",
            "--num-envs",
            "2",
            "--max-iterations",
            "2",
            "--config",
            str(tiny_config),
            "--logdir",
            str(tmp_path / "logs"),
            *extra,
            cwd=tmp_path,
        )

    return run


def _run_dir(tmp_path):
    runs = list((tmp_path / "logs" / "genpo" / "InvertedPendulum-v5").iterdir())
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize(("integrator", "likelihood"), PAIRS)
def test_every_integrator_estimator_pair_trains(tmp_path, tiny_config, integrator, likelihood, train):
    extra = ["--integrator", integrator, "--likelihood", likelihood]
    if integrator == "pf-ode":  # the default dopri5 is slow at this size: a fixed-step solver keeps CI short
        cfg = yaml.safe_load(tiny_config.read_text())
        cfg["policy"]["options"] = {"method": "rk4"}
        tiny_config.write_text(yaml.safe_dump(cfg))
    proc = train(*extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = _run_dir(tmp_path)
    assert (run / "model_2.pt").is_file() and (run / "params" / "config.yaml").is_file()
    saved = yaml.safe_load((run / "params" / "config.yaml").read_text())
    assert saved["policy"]["integrator"] == integrator and saved["policy"]["likelihood"] == likelihood
    assert list(run.glob("events.out.tfevents.*")), "no TensorBoard events"
    ckpt = torch.load(run / "model_2.pt", weights_only=True)
    assert ckpt["iteration"] == 2 and ckpt["global_step"] == 2 * 2 * 8


@pytest.mark.parametrize(
    ("integrator", "likelihood", "options"),
    [
        ("gaussian-chain", "exact", {"noise": "learned", "sigma_min": 0.05, "sigma_max": 0.3}),
        ("reversible-rk", "exact", {"tableau": "midpoint", "lam": 0.99}),
        ("euler", "cfm", {"mc_samples": 4}),
    ],
)
def test_zoo_options_train_and_bad_ones_are_refused(tmp_path, tiny_config, integrator, likelihood, options, train):
    """The newer members' options reach them from a config file; a wrong value is refused before any work."""
    cfg = yaml.safe_load(tiny_config.read_text())
    cfg["policy"]["options"] = options
    tiny_config.write_text(yaml.safe_dump(cfg))
    proc = train("--integrator", integrator, "--likelihood", likelihood)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = yaml.safe_load((_run_dir(tmp_path) / "params" / "config.yaml").read_text())
    assert saved["policy"]["options"] == options
    key = next(iter(options))
    cfg["policy"]["options"] = {key: "nonsense"}
    tiny_config.write_text(yaml.safe_dump(cfg))
    bad = train("--integrator", integrator, "--likelihood", likelihood, "--run-name", "bad")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert key in bad.stdout + bad.stderr


@pytest.mark.parametrize("model", ["gaussian", "nsf", "maf"])
def test_baseline_and_normflows_models_train(tmp_path, tiny_config, model, train):
    if model != "gaussian":  # normflows conditioners take one width
        cfg = yaml.safe_load(tiny_config.read_text())
        cfg["policy"]["hidden"] = [32]
        tiny_config.write_text(yaml.safe_dump(cfg))
    proc = train("--model", model)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (_run_dir(tmp_path) / "model_2.pt").is_file()


def test_resume_then_play_and_export(tmp_path, tiny_config, train, genpo_cli):
    assert train().returncode == 0
    proc = train("--resume")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming from" in proc.stdout
    runs = sorted((tmp_path / "logs" / "genpo" / "InvertedPendulum-v5").iterdir())
    assert len(runs) == 2 and (runs[1] / "model_4.pt").is_file()

    play = genpo_cli(
        "play", "--checkpoint", "latest", "--episodes", "2", "--logdir", str(tmp_path / "logs"), cwd=tmp_path
    )
    assert play.returncode == 0, play.stdout + play.stderr
    assert "return over 2 episodes" in play.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--integrator", "rk45"], "unknown integrator 'rk45'; choose one of: "),
        (["--likelihood", "magic"], "choose one of: exact, jacobian, hutchinson, trace"),
        (["--p", "1.5"], "open interval (0, 1)"),
        (["--steps", "0"], "steps"),
        (["--num-envs", "0"], "num_envs"),
        (["--env", "NoSuchTask-v9"], "NoSuchTask-v9"),
        (["--integrator", "pf-ode"], "compatible estimators"),
        (["--checkpoint", "missing.pt"], "does not exist"),
        (["--distributed"], "torchrun"),
        (["--entropy-coef", "-1"], "entropy_coef"),
        (["--set", "stepz=1"], "unknown configuration field 'stepz'; allowed: env.id"),
        (["--set", "steps=0"], "policy.flow_steps must be an integer in [1, 1000], got 0 (option --set steps=0)"),
        (["--steps", "2", "--set", "steps=3"], "sets policy.flow_steps, which --steps already sets"),
        (["--set", "lr=1e-3", "--set", "algo.learning_rate=1e-4"], "sets algo.learning_rate again"),
        (["--set", "hidden"], "expected FIELD=VALUE"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, tiny_config, args, message, train):
    proc = train(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "logs").exists(), "a refused run must not create a run folder"


def test_resuming_with_another_architecture_is_refused(tmp_path, tiny_config, train):
    assert train().returncode == 0
    proc = train("--resume", "--steps", "3")
    assert proc.returncode == 2
    assert "keeps its architecture" in proc.stdout + proc.stderr


def test_set_reaches_any_field_and_a_resume_keeps_the_architecture(tmp_path, tiny_config, train, genpo_cli):
    proc = train("--set", "hidden=[12, 12]", "--set", "algo.num_epochs=2", "--set", "policy.options={probes: 2}",
                 "--integrator", "pf-ode", "--likelihood", "hutchinson")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = yaml.safe_load((_run_dir(tmp_path) / "params" / "config.yaml").read_text())
    assert saved["policy"]["hidden"] == [12, 12] and saved["algo"]["num_epochs"] == 2
    assert saved["policy"]["options"] == {"probes": 2}
    proc = train("--resume", "--set", "hidden=[16]")
    assert proc.returncode == 2
    assert "keeps its architecture" in proc.stdout + proc.stderr

    # --dry-run: the resumed configuration, one option key changed, printed as params/config.yaml holds it
    dry = genpo_cli("train", "--checkpoint", str(_run_dir(tmp_path)), "--set", "policy.options.probes=3", "--dry-run",
                    cwd=tmp_path)  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.startswith(f"# resumes from {_run_dir(tmp_path)}")
    printed = yaml.safe_load("\n".join(line for line in dry.stdout.splitlines() if not line.startswith("#")))
    assert printed == {**saved, "policy": {**saved["policy"], "options": {"probes": 3}}}
    assert "# dry run: valid" in dry.stdout
    _run_dir(tmp_path)  # still one run folder: nothing was written


def test_underscore_spellings_are_accepted(tmp_path, tiny_config, genpo_cli):
    proc = genpo_cli(
        "train",
        "--task",
        "InvertedPendulum-v5",
        "--num_envs",
        "2",
        "--max_iterations",
        "1",
        "--config",
        str(tiny_config),
        "--logdir",
        str(tmp_path / "logs"),
        "--run_name",
        "u",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _run_dir(tmp_path).name.endswith("_u")


def test_play_video_writes_an_mp4_or_fails_clearly(tmp_path, train, genpo_cli, monkeypatch):
    assert train().returncode == 0
    logs = str(tmp_path / "logs")
    monkeypatch.setenv("MUJOCO_GL", "bogus")
    bad = genpo_cli("play", "--checkpoint", "latest", "--episodes", "1", "--video", "--logdir", logs, cwd=tmp_path)
    assert bad.returncode == 1
    assert "could not render offscreen" in bad.stdout and "MUJOCO_GL" in bad.stdout

    monkeypatch.setenv("MUJOCO_GL", "egl")
    proc = genpo_cli(
        "play",
        "--checkpoint",
        "latest",
        "--episodes",
        "1",
        "--video",
        "--video-length",
        "20",
        "--logdir",
        logs,
        cwd=tmp_path,
    )
    if proc.returncode == 1 and "could not render offscreen" in proc.stdout:
        pytest.skip(f"no offscreen OpenGL here: {proc.stdout.strip()[:300]}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    videos = list((tmp_path / "logs").rglob("videos/*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000
