"""The code blocks of docs/architecture.md run as written (in a subprocess: they register new parts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_architecture_snippets_run(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 4  # routing + one recipe each for integrators, estimators, velocity networks
    script = tmp_path / "snippets.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pf-ode(rk4, steps=5) gaussian" in done.stdout
    assert "unknown option(s) depth" in done.stdout
    assert "compatible estimators: exact, jacobian" in done.stdout


def test_recipes_train_from_the_cli(tmp_path: Path) -> None:
    """The recipes saved as a module train through ``genpo train`` by dotted path and by ``--plugin``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (tmp_path / "recipes.py").write_text("\n".join(blocks))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    common = ["--env", "builtin:PointMass", "--num-envs", "4", "--max-iterations", "1", "--logdir", str(tmp_path)]
    for parts in (
        ["--integrator", "recipes:ShearIntegrator", "--velocity", "recipes:ConcatTanhVelocity"],
        ["--plugin", "recipes", "--integrator", "shear", "--velocity", "concat-tanh"],
    ):
        cmd = [sys.executable, "-m", "genpo", "train", *common, *parts]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(list((tmp_path / "genpo" / "PointMass").glob("*/model_1.pt"))) == 2
