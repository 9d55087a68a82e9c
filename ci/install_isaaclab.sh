#!/usr/bin/env bash
# Installs IsaacLab 3.0 (kit-less: Newton physics, no Isaac Sim) into the current Python environment, from PyPI.
#
#   bash ci/install_isaaclab.sh            # uses $PYTHON, else the active venv's python, else python3
#   PYTHON=/path/to/python bash ci/install_isaaclab.sh
#   bash ci/install_isaaclab.sh --force    # reinstall even if everything is already there
#
# Idempotent: exits at once when the pinned packages are already installed. Never replaces torch: the isaaclab
# wheel pins torch==2.11 (and Python>=3.12), so it is installed with --no-deps --ignore-requires-python, and the
# other packages are installed against a constraint that holds the installed torch at its version. The remaining
# isaaclab requirements (Isaac Sim, transformers, open3d, pin, omniverseclient, ...) are not needed by the
# kit-less tasks genpo runs. tensordict is not needed to run tasks either, but several tasks' rsl_rl agent
# configs import it (genpo reads their clip_actions, and the tests compare the presets with them). The USD converters
# (mujoco-usd-converter, urdf-usd-converter) build the stand-in robots of the paper's tasks. See docs/isaaclab.md.
set -euo pipefail

ISAACLAB_VERSION="3.0.0"
PACKAGES=(
    "warp-lang==1.17.0"
    "newton[sim]==1.6.1"
    "usd-exchange==3.0.1"
    "newton-usd-schemas"
    "gymnasium"
    "prettytable"
    "psutil"
    "trimesh"
    "lazy_loader"
    "hydra-core"
    "scipy"
    "einops"
    "h5py"
    "rich"
    "tqdm"
    "tensordict"
)
# The PyPI converters genpo builds the stand-in robots with (MJCF -> USD, URDF -> USD; no Isaac Sim). 0.6.1 is the
# last mujoco-usd-converter that accepts the MuJoCo 3.12 Newton uses; pycollada reads the ANYmal's DAE meshes.
# If they cannot install, the robots built from them are reported unavailable (docs/isaaclab.md), nothing else.
CONVERTERS=(
    "mujoco-usd-converter==0.6.1"
    "urdf-usd-converter==0.3.4"
    "pycollada"
)

if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then
    py="$VIRTUAL_ENV/bin/python"
elif command -v python >/dev/null 2>&1; then
    py="python"
else
    py="python3"
fi

force=0
[[ "${1:-}" == "--force" ]] && force=1

installed() {
    # true when isaaclab and every pinned package are installed at the pinned versions
    "$py" - "$ISAACLAB_VERSION" <<'EOF'
import importlib.metadata as md
import sys

want = {"isaaclab": sys.argv[1], "warp-lang": "1.17.0", "newton": "1.6.1", "usd-exchange": "3.0.1",
        "mujoco-usd-converter": "0.6.1", "urdf-usd-converter": "0.3.4"}
names = ["newton-usd-schemas", "gymnasium", "prettytable", "psutil", "trimesh", "lazy_loader", "hydra-core",
         "scipy", "einops", "h5py", "rich", "tqdm", "mujoco-warp", "tensordict", "pycollada"]
try:
    ok = all(md.version(name) == version for name, version in want.items())
    for name in names:
        md.version(name)
except md.PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

echo "install_isaaclab: using $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
if [[ $force -eq 0 ]] && installed; then
    echo "install_isaaclab: isaaclab ${ISAACLAB_VERSION} and its kit-less dependencies are already installed"
    exit 0
fi

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
torch_version="$("$py" -c 'import importlib.metadata as md; print(md.version("torch"))' 2>/dev/null || true)"
if [[ -n "$torch_version" ]]; then
    echo "torch==${torch_version}" >"$constraints"
    echo "install_isaaclab: keeping torch ${torch_version}"
fi

"$py" -m pip install --no-deps --ignore-requires-python "isaaclab==${ISAACLAB_VERSION}"
"$py" -m pip install -c "$constraints" "${PACKAGES[@]}"
mujoco_version="$("$py" -c 'import importlib.metadata as md; print(md.version("mujoco"))')"
echo "mujoco==${mujoco_version}" >>"$constraints"
if ! "$py" -m pip install -c "$constraints" "${CONVERTERS[@]}"; then
    echo "install_isaaclab: the USD converters did not install; the stand-in robots built from robot descriptions" \
        "(Go2, H1, ANYmal D, Shadow hand) will be reported unavailable" >&2
fi

if [[ -n "$torch_version" ]]; then
    now="$("$py" -c 'import importlib.metadata as md; print(md.version("torch"))')"
    if [[ "$now" != "$torch_version" ]]; then
        echo "install_isaaclab: torch changed from ${torch_version} to ${now}" >&2
        exit 1
    fi
fi
"$py" -c 'import isaaclab_tasks, newton, warp, pxr; print("install_isaaclab: ok")'
