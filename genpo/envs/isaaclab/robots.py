"""Stand-in robots for the paper's IsaacLab tasks, built offline from public robot descriptions.

IsaacLab's tasks load NVIDIA's robot USD files. Offline, genpo builds stand-ins at the same paths under the
local asset root (:mod:`genpo.envs.isaaclab.asset_root`) from

* the ``newton`` wheel's ``humanoid.usda`` (the Humanoid), and
* a folder of public robot descriptions (``--robots-dir``, the ``robots_dir`` env option, or
  ``$GENPO_ROBOTS_DIR``) laid out as :data:`STAND_INS` says: Unitree Go2 and H1 (MJCF), ANYmal D (URDF) and
  its actuator network, and the Shadow hand (MJCF),

with the PyPI converters ``mujoco-usd-converter`` and ``urdf-usd-converter`` (no Isaac Sim), followed by the
renames and layout fixes of :mod:`genpo.envs.isaaclab.robot_sources` and
:mod:`genpo.envs.isaaclab.usd_layout`. They are stand-ins, not NVIDIA's assets: masses, gains, meshes and
collision shapes differ, so returns are not comparable with published numbers.

Each build is cached: a key over the source files' content, the converter's version and
:data:`BUILD_VERSION` is stored beside the output, and a robot is rebuilt only when its key changes. A robot
whose converter is not installed is reported unavailable (:func:`unavailable_stand_ins`), never faked.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from genpo.errors import ConfigError

ROBOTS_DIR_ENV = "GENPO_ROBOTS_DIR"
"""Environment variable naming the robot-descriptions folder (the ``robots_dir`` option wins over it)."""

BUILD_VERSION = "2"
"""Bumped when a builder's output changes, so cached stand-ins are rebuilt."""

KEYS_FOLDER = ".genpo-stand-ins"
"""Folder under the asset root holding each stand-in's cache key and build report."""

CONVERTER_PACKAGES = {"mjcf": "mujoco-usd-converter", "urdf": "urdf-usd-converter"}
"""Source format -> the PyPI converter that turns it into USD (``pip install`` line: docs/isaaclab.md)."""

CONVERTER_PINS = {"mujoco-usd-converter": "0.6.1", "urdf-usd-converter": "0.3.4"}
"""Versions installed by ``ci/install_isaaclab.sh`` (0.7+ of the MJCF converter wants a newer MuJoCo)."""


@dataclass(frozen=True)
class StandIn:
    """One stand-in asset of the local asset root.

    Attributes:
        name: Short name (``go2``), used in messages and cache keys.
        robot: What it stands in for, in words.
        asset_path: Path under the asset root, as IsaacLab's configs name it.
        tasks: IsaacLab 3.x tasks that use it.
        folder: Subfolder of the robot-descriptions folder; ``None``: built without it.
        source: The file in ``folder`` the build starts from (the error names it when absent).
        kind: ``"mjcf"``, ``"urdf"``, ``"copy"`` (the source file as it is), ``"newton"`` or ``"written"``.
        licence: Licence of the source, for docs and the build report.
        origin: Where the source comes from.
    """

    name: str
    robot: str
    asset_path: str
    tasks: tuple[str, ...]
    folder: str | None
    source: str | None
    kind: str
    licence: str
    origin: str
    edit: Callable[[Path, Path], Path] | None = field(default=None, compare=False, repr=False)
    layout: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


def _go2_edit(src: Path, dst: Path) -> Path:
    from genpo.envs.isaaclab.robot_sources import go2_mjcf

    return go2_mjcf(src, dst)


def _h1_edit(src: Path, dst: Path) -> Path:
    from genpo.envs.isaaclab.robot_sources import h1_mjcf

    return h1_mjcf(src, dst)


def _anymal_edit(src: Path, dst: Path) -> Path:
    from genpo.envs.isaaclab.robot_sources import anymal_d_urdf

    return anymal_d_urdf(src, dst)


def _shadow_edit(src: Path, dst: Path) -> Path:
    from genpo.envs.isaaclab.robot_sources import shadow_hand_mjcf

    return shadow_hand_mjcf(src, dst)


_VELOCITY = "Isaac-Velocity-{}-{}"

STAND_INS: tuple[StandIn, ...] = (
    StandIn(
        name="humanoid",
        robot="MuJoCo humanoid (IsaacLab's Humanoid)",
        asset_path="Isaac/Robots/IsaacSim/Humanoid/humanoid_instanceable.usd",
        tasks=("Isaac-Humanoid", "Isaac-Humanoid-Direct"),
        folder=None,
        source=None,
        kind="newton",
        licence="Apache-2.0 (the newton wheel)",
        origin="newton wheel: newton/examples/assets/humanoid.usda",
        # IsaacLab's names for three of newton's joints (its gains and observations address them by name)
        layout={
            "rename_joints": {
                "abdomen_x": "pelvis",
                "right_knee": "right_shin",
                "left_knee": "left_shin",
                "right_elbow": "right_lower_arm",
                "left_elbow": "left_lower_arm",
            },
            "drop_world_joints": False,
        },
    ),
    StandIn(
        name="go2",
        robot="Unitree Go2",
        asset_path="Isaac/IsaacLab/Robots/Unitree/Go2/go2.usd",
        tasks=(_VELOCITY.format("Flat", "UnitreeGo2"), _VELOCITY.format("Rough", "UnitreeGo2")),
        folder="unitree_go2",
        source="go2.xml",
        kind="mjcf",
        licence="BSD-3-Clause",
        origin="unitreerobotics/unitree_mujoco @ c598f103: unitree_robots/go2/go2.xml + meshes",
        edit=_go2_edit,
    ),
    StandIn(
        name="h1",
        robot="Unitree H1",
        asset_path="Isaac/IsaacLab/Robots/Unitree/H1/h1_minimal.usd",
        tasks=(_VELOCITY.format("Flat", "H1"), _VELOCITY.format("Rough", "H1")),
        folder="unitree_h1",
        source="mjcf/h1.xml",
        kind="mjcf",
        licence="Apache-2.0",
        origin="newton-physics/newton-assets @ a015ca3f: h1_description/mjcf/h1.xml + meshes",
        edit=_h1_edit,
    ),
    StandIn(
        name="anymal-d",
        robot="ANYbotics ANYmal D",
        asset_path="Isaac/IsaacLab/Robots/ANYbotics/ANYmal-D/anymal_d.usd",
        tasks=(_VELOCITY.format("Flat", "AnymalD"), _VELOCITY.format("Rough", "AnymalD")),
        folder="anybotics_anymal_d",
        source="urdf/anymal.urdf",
        kind="urdf",
        licence="BSD-3-Clause",
        origin="ANYbotics/anymal_d_simple_description @ d5bf4dc3: urdf/anymal.urdf + meshes",
        edit=_anymal_edit,
    ),
    StandIn(
        name="anydrive-net",
        robot="ANYdrive 3 actuator network (TorchScript LSTM)",
        asset_path="Isaac/IsaacLab/ActuatorNets/ANYbotics/anydrive_3_lstm_jit.pt",
        tasks=(_VELOCITY.format("Flat", "AnymalD"), _VELOCITY.format("Rough", "AnymalD")),
        folder="anydrive_actuator_net",
        source="anydrive_v3_lstm.pt",
        kind="copy",
        licence="BSD-3-Clause",
        origin="leggedrobotics/legged_gym @ 8fa29acc: resources/actuator_nets/anydrive_v3_lstm.pt",
    ),
    StandIn(
        name="shadow-hand",
        robot="Shadow Dexterous Hand E3M5 (right)",
        asset_path=("Isaac/Robots_Multiphysics/ShadowRobot/ShadowHandMultiPhysics_v0/right_hand/right_hand.usda"),
        tasks=("Isaac-Reorient-Cube-Shadow-Direct",),
        folder="shadow_hand",
        source="right_hand.xml",
        kind="mjcf",
        licence="Apache-2.0",
        origin="MuJoCo Menagerie shadow_hand/right_hand.xml + assets (copy: jinkallu/HumanoidArm @ fe2cd097)",
        edit=_shadow_edit,
        # the task selects these variant sets on the asset; the stand-in has one physics description for both
        layout={"variant_sets": {"Physics": ["mujoco", "physx"], "Colliders": ["simplified"]}},
    ),
    StandIn(
        name="dex-cube",
        robot="DexCube (6 cm cube)",
        asset_path="Isaac/Props/Blocks/DexCube/dex_cube_instanceable.usd",
        tasks=("Isaac-Reorient-Cube-Shadow-Direct",),
        folder=None,
        source=None,
        kind="written",
        licence="genpo's",
        origin="written by genpo: a 6 cm rigid cube, 60 g",
    ),
)
"""Every stand-in genpo can build, in build order."""

_DEX_CUBE_USDA = """#usda 1.0
(
    defaultPrim = "DexCube"
    metersPerUnit = 1
    upAxis = "Z"
)

def Xform "DexCube" (
    prepend apiSchemas = ["PhysicsRigidBodyAPI", "PhysicsMassAPI"]
)
{
    float physics:mass = 0.06

    def Cube "Geometry" (
        prepend apiSchemas = ["PhysicsCollisionAPI"]
    )
    {
        double size = 0.06
        float3[] extent = [(-0.03, -0.03, -0.03), (0.03, 0.03, 0.03)]
        color3f[] primvars:displayColor = [(0.8, 0.3, 0.1)]
    }
}
"""


def robots_dir_request(robots_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The robot-descriptions folder from the option, else ``$GENPO_ROBOTS_DIR``; ``None`` when neither is set."""
    value = os.fspath(robots_dir) if robots_dir is not None else os.environ.get(ROBOTS_DIR_ENV, "")
    return Path(value).expanduser().resolve() if value.strip() else None


def check_robots_dir(robots_dir: Path) -> None:
    """Raises :class:`ConfigError` naming the robot and the expected file when the folder lacks a source."""
    if not robots_dir.is_dir():
        raise ConfigError(
            f"robot descriptions folder {robots_dir} does not exist (set by the robots_dir option or "
            f"${ROBOTS_DIR_ENV}; see docs/isaaclab.md for its layout)"
        )
    for spec in STAND_INS:
        if spec.folder is None or spec.source is None:
            continue
        expected = robots_dir / spec.folder / spec.source
        if not expected.is_file():
            raise ConfigError(
                f"robot descriptions folder {robots_dir}: {spec.robot} ({spec.name}) needs {expected}, which is "
                "missing (see docs/isaaclab.md for the folder's layout)"
            )


def converter_version(kind: str) -> str | None:
    """Installed version of the converter a source kind needs; ``None`` when it is not installed."""
    package = CONVERTER_PACKAGES.get(kind)
    if package is None:
        return "none-needed"
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _newton_humanoid() -> Path:
    from genpo.envs.isaaclab.asset_root import _newton_assets_dir

    return _newton_assets_dir() / "humanoid.usda"


def _source_files(spec: StandIn, robots_dir: Path | None) -> list[Path]:
    """The files whose content keys the cache of ``spec``."""
    if spec.kind == "newton":
        return [_newton_humanoid()]
    if spec.folder is None or robots_dir is None:
        return []
    folder = robots_dir / spec.folder
    return sorted(p for p in folder.rglob("*") if p.is_file())


def cache_key(spec: StandIn, robots_dir: Path | None) -> str:
    """SHA-256 over the builder version, the converter's version and the source files (names and content)."""
    h = hashlib.sha256()
    h.update(f"{spec.name}\0{BUILD_VERSION}\0{converter_version(spec.kind)}\0".encode())
    if spec.kind == "written":
        h.update(_DEX_CUBE_USDA.encode())
    for path in _source_files(spec, robots_dir):
        base = robots_dir / spec.folder if (spec.folder and robots_dir) else path.parent
        h.update(str(path.relative_to(base)).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _convert(spec: StandIn, source: Path, scratch: Path) -> Path:
    """Runs the PyPI converter on a (possibly edited) source; returns the flattened USD it wrote."""
    # the converter's own import registers its USD schemas: it must come before any other USD use
    if spec.kind == "mjcf":
        import mujoco_usd_converter

        converter = mujoco_usd_converter.Converter(layer_structure=False, scene=False)
    else:
        import urdf_usd_converter

        converter = urdf_usd_converter.Converter(layer_structure=False, scene=False)
    out = converter.convert(str(source), str(scratch / "usd"))
    return Path(out.path)


def _build_one(spec: StandIn, robots_dir: Path | None, dst: Path) -> dict[str, object]:
    """Builds one stand-in at ``dst``; returns what the build report records."""
    from genpo.envs.isaaclab.usd_layout import restructure

    dst.parent.mkdir(parents=True, exist_ok=True)
    if spec.kind == "written":
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.usda")
        tmp.write_text(_DEX_CUBE_USDA)
        from pxr import Sdf

        layer = Sdf.Layer.FindOrOpen(str(tmp))
        out = dst.with_name(f".{dst.stem}.{os.getpid()}{dst.suffix}")
        if layer is None or not layer.Export(str(out)):
            raise RuntimeError(f"could not write {dst}")
        tmp.unlink()
        os.replace(out, dst)
        return {}
    if spec.kind == "copy":
        assert robots_dir is not None and spec.folder and spec.source
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
        shutil.copyfile(robots_dir / spec.folder / spec.source, tmp)
        os.replace(tmp, dst)
        return {}
    if spec.kind == "newton":
        return restructure(_newton_humanoid(), dst, **spec.layout)  # type: ignore[arg-type]
    assert robots_dir is not None
    # The converters register USD schemas (MjcImageableAPI, ...) that must be loaded before anything in the
    # process reads USD's schema registry, which IsaacLab or an earlier build may have done: convert in a
    # fresh interpreter.
    with tempfile.TemporaryDirectory(prefix=f"genpo-{spec.name}-") as tmpdir:
        report = Path(tmpdir) / "report.json"
        cmd = [sys.executable, "-m", "genpo.envs.isaaclab.robots", spec.name, str(robots_dir), str(dst), str(report)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not report.is_file():
            tail = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith(("Status:", "Warning:")))
            raise RuntimeError(f"building the {spec.robot} stand-in failed ({' '.join(cmd)}):\n{tail[-4000:]}")
        return json.loads(report.read_text())


def _convert_in_this_process(name: str, robots_dir: Path, dst: Path) -> dict[str, object]:
    """Edits, converts and restructures one MJCF/URDF stand-in (run in a fresh interpreter by ``_build_one``)."""
    from genpo.envs.isaaclab.usd_layout import restructure

    spec = next(s for s in STAND_INS if s.name == name)
    assert spec.folder and spec.source and spec.edit is not None
    with tempfile.TemporaryDirectory(prefix=f"genpo-{spec.name}-") as tmpdir:
        scratch = Path(tmpdir)
        source = spec.edit(robots_dir / spec.folder / spec.source, scratch / "src" / Path(spec.source).name)
        usd = _convert(spec, source, scratch)
        return restructure(usd, dst, **spec.layout)  # type: ignore[arg-type]


def build_stand_ins(root: Path, robots_dir: Path | None, *, overwrite: bool = False) -> dict[str, str]:
    """Builds (or keeps, when cached) every stand-in that can be built; returns ``{name: status}``.

    Status is ``"built"``, ``"cached"``, or the reason it is unavailable (no robot-descriptions folder, or
    its converter is not installed).

    Raises:
        ConfigError: When ``robots_dir`` is given but lacks a robot's source file (naming both).
    """
    if robots_dir is not None:
        check_robots_dir(robots_dir)
    keys = root / KEYS_FOLDER
    keys.mkdir(parents=True, exist_ok=True)
    status: dict[str, str] = {}
    for spec in STAND_INS:
        if spec.folder is not None and robots_dir is None:
            status[spec.name] = f"unavailable: no robot descriptions folder (set ${ROBOTS_DIR_ENV} or robots_dir)"
            continue
        if converter_version(spec.kind) is None:
            package = CONVERTER_PACKAGES[spec.kind]
            status[spec.name] = (
                f"unavailable: {package} is not installed (pip install {package}=={CONVERTER_PINS[package]}, "
                "or bash ci/install_isaaclab.sh)"
            )
            continue
        dst = root / spec.asset_path
        key = cache_key(spec, robots_dir)
        key_file = keys / f"{spec.name}.json"
        try:
            cached = json.loads(key_file.read_text()).get("key") if key_file.is_file() else None
        except (OSError, ValueError):
            cached = None
        if not overwrite and cached == key and dst.is_file():
            status[spec.name] = "cached"
            continue
        report = _build_one(spec, robots_dir, dst)
        tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "source": spec.origin, "licence": spec.licence, **report}, indent=1))
        os.replace(tmp, key_file)
        status[spec.name] = "built"
    tmp = keys / f".status.json.{os.getpid()}"
    tmp.write_text(json.dumps(status, indent=1))
    os.replace(tmp, keys / "status.json")
    return status


def unavailable_stand_ins(root: Path) -> dict[str, str]:
    """Stand-ins of a built root that are unavailable, with the reason: ``{asset_path: reason}``."""
    try:
        status = json.loads((root / KEYS_FOLDER / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    by_name = {spec.name: spec for spec in STAND_INS}
    return {
        by_name[name].asset_path: f"{by_name[name].robot}: {reason}"
        for name, reason in status.items()
        if name in by_name and reason.startswith("unavailable")
    }


__all__ = [
    "BUILD_VERSION",
    "CONVERTER_PACKAGES",
    "CONVERTER_PINS",
    "ROBOTS_DIR_ENV",
    "STAND_INS",
    "StandIn",
    "build_stand_ins",
    "cache_key",
    "check_robots_dir",
    "converter_version",
    "robots_dir_request",
    "unavailable_stand_ins",
]


if __name__ == "__main__":  # python -m genpo.envs.isaaclab.robots NAME ROBOTS_DIR DST REPORT (see _build_one)
    if len(sys.argv) != 5:
        raise SystemExit("usage: python -m genpo.envs.isaaclab.robots NAME ROBOTS_DIR DST REPORT")
    _name, _robots, _dst, _report = sys.argv[1:]
    _out = _convert_in_this_process(_name, Path(_robots), Path(_dst))
    Path(_report).write_text(json.dumps(_out))
