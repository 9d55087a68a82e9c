"""A small local stand-in for NVIDIA's asset server, so IsaacLab tasks run with no network.

IsaacLab fetches robot and ground USD files from ``{ISAACSIM_ASSET_ROOT}/Isaac/...`` at run time. Offline,
a remote path ends in ``import omni.client`` and fails. :func:`build_local_asset_root` writes a folder that
mirrors the server's paths for the assets the offline-runnable tasks need, built only from files the
``newton`` wheel ships plus a hand-written ground plane:

* ``Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd``: ``newton/examples/assets/cartpole_single_pendulum.usda``,
  a flattened copy of IsaacLab's cartpole whose ``defaultPrim`` is fixed to the real root prim ``/cartpole``;
* ``Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd``: ``newton/examples/assets/ant.usda`` (Newton's ant: same
  body names, not NVIDIA's exact physics);
* ``Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda``: written here,
  a 100 m quad and a collision ``Plane``, the layout IsaacLab's ground-plane spawner expects.

* the paper's other robots (Humanoid, Go2, H1, ANYmal D and its actuator network, the Shadow hand, the
  DexCube): stand-ins built from public robot descriptions by :mod:`genpo.envs.isaaclab.robots`.

These assets are good enough to test an adapter and to smoke-train; they are not NVIDIA's assets, so returns
are not comparable with published numbers.

``ISAACSIM_ASSET_ROOT`` is read once, when ``isaaclab`` is first imported: set it before that import
(:func:`genpo.envs.isaaclab.make_isaaclab_env` does so when asked for local assets).
"""

from __future__ import annotations

import os
from pathlib import Path

ASSET_ROOT_ENV = "ISAACSIM_ASSET_ROOT"
"""The environment variable IsaacLab reads its asset root from."""

CARTPOLE_PATH = "Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd"
ANT_PATH = "Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd"
GROUND_PLANE_PATH = "Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda"

# A "World" default prim holding the two children IsaacLab's ground-plane spawner touches:
# "Environment" (scaled to the requested size; its "Geometry" mesh gets its UVs rewritten) and a
# "Plane" prim somewhere below (the collision shape the physics material is bound to).
_GROUND_PLANE_USDA = """#usda 1.0
(
    defaultPrim = "World"
    metersPerUnit = 1
    upAxis = "Z"
)

def Xform "World"
{
    def Xform "Environment"
    {
        double3 xformOp:scale = (1, 1, 1)
        uniform token[] xformOpOrder = ["xformOp:scale"]

        def Mesh "Geometry"
        {
            float3[] extent = [(-50, -50, 0), (50, 50, 0)]
            int[] faceVertexCounts = [4]
            int[] faceVertexIndices = [0, 1, 2, 3]
            normal3f[] normals = [(0, 0, 1), (0, 0, 1), (0, 0, 1), (0, 0, 1)] (interpolation = "vertex")
            point3f[] points = [(-50, -50, 0), (50, -50, 0), (50, 50, 0), (-50, 50, 0)]
            texCoord2f[] primvars:st = [(-25, -25), (25, -25), (25, 25), (-25, 25)] (interpolation = "vertex")
            color3f[] primvars:displayColor = [(0.35, 0.35, 0.35)]
        }
    }

    def Xform "GroundPlane"
    {
        def Plane "CollisionPlane" (
            prepend apiSchemas = ["PhysicsCollisionAPI"]
        )
        {
            uniform token axis = "Z"
            double length = 100
            double width = 100
            token visibility = "invisible"
        }
    }
}
"""


def _newton_assets_dir() -> Path:
    """Folder of the example assets inside the installed ``newton`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("newton")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the local IsaacLab asset root is built from the 'newton' wheel's example assets, but 'newton' is not "
            "installed; see docs/isaaclab.md (bash ci/install_isaaclab.sh)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "examples" / "assets"
    if not folder.is_dir():
        raise RuntimeError(f"the installed 'newton' has no example assets at {folder}")
    return folder


def _export_with_default_prim(src: Path, dst: Path, default_prim: str | None = None) -> None:
    """Copies a USD layer to ``dst`` (any USD format), optionally pointing its ``defaultPrim`` at a root prim."""
    from pxr import Sdf

    layer = Sdf.Layer.FindOrOpen(str(src))
    if layer is None:
        raise RuntimeError(f"could not open USD layer {src}")
    if default_prim is not None:
        if not layer.GetPrimAtPath(f"/{default_prim}"):
            raise RuntimeError(f"{src} has no root prim /{default_prim}")
        layer.defaultPrim = default_prim
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}{dst.suffix}")
    if not layer.Export(str(tmp)):
        raise RuntimeError(f"could not write {dst}")
    os.replace(tmp, dst)


def build_local_asset_root(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    robots_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Writes the offline asset root (cartpole, ant, ground plane, the stand-in robots) under ``path``.

    Idempotent: files already there are kept unless ``overwrite``; stand-in robots are rebuilt only when
    their sources or converters change (:mod:`genpo.envs.isaaclab.robots`). Safe against concurrent builders
    (each file is written to a temporary name and renamed into place).

    Args:
        path: Folder to build the root in (created if missing).
        overwrite: Rebuild files that already exist.
        robots_dir: Folder of public robot descriptions (Go2, H1, ANYmal D, Shadow hand); ``None`` reads
            ``$GENPO_ROBOTS_DIR``, and without either only the Humanoid and the DexCube stand-ins are built.

    Returns:
        The absolute root folder: set ``ISAACSIM_ASSET_ROOT`` to it before importing ``isaaclab``.

    Raises:
        RuntimeError: When ``newton`` or ``pxr`` (the ``usd-exchange`` wheel) is not installed.
        ConfigError: When the robot descriptions folder lacks a robot's file (the message names both).
    """
    from genpo.envs.isaaclab.robots import build_stand_ins, robots_dir_request

    robots = robots_dir_request(robots_dir)
    root = Path(path).expanduser().resolve()
    assets = _newton_assets_dir()
    targets = {
        CARTPOLE_PATH: lambda dst: _export_with_default_prim(
            assets / "cartpole_single_pendulum.usda", dst, default_prim="cartpole"
        ),
        ANT_PATH: lambda dst: _export_with_default_prim(assets / "ant.usda", dst),
    }
    for rel, build in targets.items():
        dst = root / rel
        if overwrite or not dst.is_file():
            build(dst)
    ground = root / GROUND_PLANE_PATH
    if overwrite or not ground.is_file():
        ground.parent.mkdir(parents=True, exist_ok=True)
        tmp = ground.with_name(f".{ground.name}.{os.getpid()}")
        tmp.write_text(_GROUND_PLANE_USDA)
        os.replace(tmp, ground)
    build_stand_ins(root, robots, overwrite=overwrite)
    return root


def default_asset_root_dir() -> Path:
    """Where :func:`build_local_asset_root` builds by default: ``$GENPO_CACHE_DIR/isaaclab-assets``.

    ``GENPO_CACHE_DIR`` defaults to ``~/.cache/genpo``.
    """
    cache = os.environ.get("GENPO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "genpo")
    return Path(cache) / "isaaclab-assets"


__all__ = [
    "ANT_PATH",
    "ASSET_ROOT_ENV",
    "CARTPOLE_PATH",
    "GROUND_PLANE_PATH",
    "build_local_asset_root",
    "default_asset_root_dir",
]
