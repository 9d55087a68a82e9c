"""USD layout fixes that turn a converted robot description into the layout IsaacLab's configs expect.

IsaacLab spawns a robot's USD file under ``/World/envs/env_N/Robot`` and finds its parts by regular
expressions over prim names: every rigid body must be a direct child of the robot prim
(``/Robot/<body>``; contact sensors match ``/Robot/.*_foot``), and joints are found by name. The PyPI
converters (``mujoco-usd-converter``, ``urdf-usd-converter``) nest bodies along the kinematic tree and, for
URDF, weld the root link to the world. :func:`restructure` moves every body to the top (keeping its world
pose), renames prims, drops joints to the world and writes a single self-contained layer.

Only ``pxr`` (the ``usd-exchange`` wheel IsaacLab 3.0 installs) is needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _remap(path: Any, moves: list[tuple[Any, Any]]) -> Any:
    """``path`` with the longest moved prefix replaced by its new location."""
    for old, new in moves:  # longest first
        if path.HasPrefix(old):
            return path.ReplacePrefix(old, new)
    return path


def _localize_files(stage: Any, folder: Path) -> None:
    """Copies files that asset attributes name by absolute path (textures) next to the output, as relative paths.

    IsaacLab treats an absolute path it did not expect like a remote asset (and fails without ``omni``).
    """
    from pxr import Sdf

    for prim in stage.Traverse():
        for attr in prim.GetAttributes():
            if attr.GetTypeName() != Sdf.ValueTypeNames.Asset:
                continue
            value = attr.Get()
            path = Path(value.path) if value is not None and value.path else None
            if path is None or not path.is_absolute():
                continue
            if not path.is_file():
                attr.Clear()  # a texture the converter named but did not write: the visual falls back to a colour
                continue
            target = folder / "Textures" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file() or target.read_bytes() != path.read_bytes():
                tmp = target.with_name(f".{target.name}.{os.getpid()}")
                shutil.copyfile(path, tmp)
                os.replace(tmp, target)
            attr.Set(Sdf.AssetPath(f"./Textures/{path.name}"))


def restructure(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    rename_bodies: Mapping[str, str] | None = None,
    rename_joints: Mapping[str, str] | None = None,
    drop_world_joints: bool = True,
    variant_sets: Mapping[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Flattens ``src`` into one layer at ``dst`` with every rigid body a direct child of the default prim.

    Args:
        src: A USD file (any composition: it is flattened first).
        dst: Output file; written to a temporary name and renamed into place.
        rename_bodies: Body prim name -> new name (e.g. ``{"base_link": "base"}``).
        rename_joints: Joint prim name -> new name (e.g. ``{"abdomen_x": "pelvis"}``).
        drop_world_joints: Remove joints that attach a body to the world (no ``body0`` or ``body1`` inside the
            robot): IsaacLab fixes or frees the base itself.
        variant_sets: Variant set name -> variant names to add (empty) on the default prim, for tasks that
            select variants (the Shadow hand's ``Physics`` and ``Colliders``).

    Returns:
        ``{"bodies": [...], "joints": [...], "dropped_joints": [...]}``: the prim names after the edit.

    Raises:
        RuntimeError: When ``src`` cannot be opened, has no default prim, or ``dst`` cannot be written.
    """
    from pxr import Sdf, Usd, UsdGeom, UsdPhysics

    rename_bodies = dict(rename_bodies or {})
    rename_joints = dict(rename_joints or {})
    stage = Usd.Stage.Open(os.fspath(src))
    if stage is None:
        raise RuntimeError(f"could not open USD file {src}")
    layer = stage.Flatten()
    stage = Usd.Stage.Open(layer)
    root = stage.GetDefaultPrim()
    if not root:
        raise RuntimeError(f"{src} has no default prim")
    root_path = root.GetPath()

    cache = UsdGeom.XformCache()
    root_inv = cache.GetLocalToWorldTransform(root).GetInverse()
    bodies = [p for p in Usd.PrimRange(root) if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    local = {p.GetPath(): cache.GetLocalToWorldTransform(p) * root_inv for p in bodies}
    names = [rename_bodies.get(p.GetName(), p.GetName()) for p in bodies]
    if len(set(names)) != len(names):
        raise RuntimeError(f"{src}: body names are not unique after flattening: {sorted(names)}")

    # deepest first: a body's ancestors keep their paths until they are moved themselves
    moves: list[tuple[Any, Any]] = []
    for prim, name in sorted(zip(bodies, names, strict=True), key=lambda pn: -pn[0].GetPath().pathElementCount):
        old = prim.GetPath()
        new = root_path.AppendChild(name)
        if old != new:
            if layer.GetPrimAtPath(new):
                raise RuntimeError(f"{src}: cannot move body {old} to {new}: a prim is already there")
            edit = Sdf.BatchNamespaceEdit()
            edit.Add(old, new)
            if not layer.Apply(edit):
                raise RuntimeError(f"{src}: could not move body {old} to {new}")
        moves.append((old, new))
    moves.sort(key=lambda m: -m[0].pathElementCount)
    stage = Usd.Stage.Open(layer)

    for old, new in moves:
        prim = stage.GetPrimAtPath(new)
        for prop in prim.GetPropertyNames():
            if prop.startswith("xformOp") or prop == "xformOpOrder":
                prim.RemoveProperty(prop)
        xf = UsdGeom.Xformable(prim)
        m = local[old]
        xf.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble).Set(m.ExtractTranslation())
        xf.AddOrientOp(UsdGeom.XformOp.PrecisionDouble).Set(m.ExtractRotationQuat())

    # relationship targets (joint bodies, material bindings, ...) still name the old paths
    for prim in stage.Traverse():
        for rel in prim.GetRelationships():
            targets = rel.GetTargets()
            fixed = [_remap(t, moves) for t in targets]
            if fixed != list(targets):
                rel.SetTargets(fixed)

    root = stage.GetDefaultPrim()
    joints, dropped = [], []
    body_paths = {new for _, new in moves}
    for prim in list(Usd.PrimRange(root)):
        if not prim.IsA(UsdPhysics.Joint):
            continue
        joint = UsdPhysics.Joint(prim)
        ends = [t for rel in (joint.GetBody0Rel(), joint.GetBody1Rel()) for t in rel.GetTargets()]
        if drop_world_joints and (len(ends) < 2 or not all(e in body_paths for e in ends)):
            dropped.append(prim.GetName())
            stage.RemovePrim(prim.GetPath())
            continue
        joints.append(prim)
    out_joints = []
    for prim in joints:
        name = rename_joints.get(prim.GetName(), prim.GetName())
        if name != prim.GetName():
            target = prim.GetPath().GetParentPath().AppendChild(name)
            edit = Sdf.BatchNamespaceEdit()
            edit.Add(prim.GetPath(), target)
            if not layer.Apply(edit):
                raise RuntimeError(f"{src}: could not rename joint {prim.GetPath()} to {name}")
        out_joints.append(name)

    if variant_sets:
        root = stage.GetDefaultPrim()
        for set_name, variants in variant_sets.items():
            vset = root.GetVariantSets().AddVariantSet(set_name)
            for variant in variants:
                vset.AddVariant(variant)
            if variants:
                vset.SetVariantSelection(variants[0])

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    _localize_files(stage, dst.parent)
    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}{dst.suffix}")
    if not layer.Export(str(tmp)):
        raise RuntimeError(f"could not write {dst}")
    os.replace(tmp, dst)
    return {
        "bodies": sorted(new.name for _, new in moves),
        "joints": sorted(out_joints),
        "dropped_joints": sorted(dropped),
    }


__all__ = ["restructure"]
