"""Edits of public robot descriptions (MJCF, URDF) before they are converted to USD for IsaacLab.

Each function reads a description from the robot-descriptions folder (never modified), applies what the
IsaacLab task needs (names, foot bodies, merged fixed links, files that are absent) and writes the edited
description into a scratch folder, with mesh paths made absolute so that the converters find them.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------------- MJCF


def _mjcf_tree(src: Path) -> tuple[ET.ElementTree, Path]:
    """Parses an MJCF file and makes its ``meshdir`` absolute; returns the tree and the mesh folder."""
    tree = ET.parse(src)
    root = tree.getroot()
    compiler = root.find("compiler")
    if compiler is None:
        compiler = ET.SubElement(root, "compiler")
    meshdir = (src.parent / compiler.get("meshdir", compiler.get("assetdir", "."))).resolve()
    compiler.set("meshdir", str(meshdir))
    return tree, meshdir


def _drop_missing_meshes(root: ET.Element, meshdir: Path) -> list[str]:
    """Removes ``<mesh>`` assets whose file is absent, and the geoms that use them; returns their files."""
    missing: dict[str, str] = {}
    for asset in root.iter("asset"):
        for mesh in list(asset.findall("mesh")):
            file = mesh.get("file", "")
            if file and not (meshdir / file).is_file():
                missing[mesh.get("name") or Path(file).stem] = file
                asset.remove(mesh)
    if missing:
        for parent in root.iter():
            for geom in list(parent.findall("geom")):
                if geom.get("mesh") in missing:
                    parent.remove(geom)
    return sorted(missing.values())


def _drop_actuators(root: ET.Element) -> None:
    """Removes the MJCF's actuators: IsaacLab's articulation config defines the drives of legged robots."""
    for actuator in root.findall("actuator"):
        root.remove(actuator)


def _write(tree: ET.ElementTree, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tree.write(dst, encoding="unicode")
    return dst


def go2_mjcf(src: Path, dst: Path) -> Path:
    """Unitree Go2 (unitree_mujoco's ``go2.xml``) edited for IsaacLab's Go2 tasks.

    * the trunk ``base_link`` becomes ``base`` (IsaacLab's name, used by terminations and the height scanner);
    * each foot's collision sphere moves from the calf into the ``*_foot`` body below it (same world pose), so
      that the contact sensor on ``.*_foot`` sees the foot's contacts;
    * meshes whose file is absent (``base_4.obj`` in the copy here) and the actuators are left out.
    """
    tree, meshdir = _mjcf_tree(src)
    root = tree.getroot()
    _drop_missing_meshes(root, meshdir)
    _drop_actuators(root)
    bodies = {b.get("name"): b for b in root.iter("body")}
    if "base_link" not in bodies:
        raise ValueError(f"{src} has no body 'base_link'")
    bodies["base_link"].set("name", "base")
    for leg in ("FL", "FR", "RL", "RR"):
        calf, foot = bodies.get(f"{leg}_calf"), bodies.get(f"{leg}_foot")
        if calf is None or foot is None:
            raise ValueError(f"{src} has no bodies '{leg}_calf' and '{leg}_foot'")
        sphere = next((g for g in calf.findall("geom") if g.get("name") == leg), None)
        if sphere is None:
            raise ValueError(f"{src}: no foot geom '{leg}' in '{leg}_calf'")
        calf.remove(sphere)
        # the class puts the sphere at (-0.002, 0, -0.213) in the calf frame; the foot body sits at (0, 0, -0.213)
        foot_pos = np.array([float(v) for v in foot.get("pos", "0 0 0").split()])
        sphere.set("pos", " ".join(f"{v:.6g}" for v in np.array([-0.002, 0.0, -0.213]) - foot_pos))
        foot.append(sphere)
    return _write(tree, dst)


def h1_mjcf(src: Path, dst: Path) -> Path:
    """Unitree H1 (newton-assets' ``h1.xml``) edited for IsaacLab's H1 tasks: joint names lose their ``_joint``
    suffix (``left_knee_joint`` -> ``left_knee``, IsaacLab's names); the actuators are left out."""
    tree, meshdir = _mjcf_tree(src)
    root = tree.getroot()
    _drop_missing_meshes(root, meshdir)
    _drop_actuators(root)
    for joint in root.iter("joint"):
        name = joint.get("name")
        if name and name.endswith("_joint"):
            joint.set("name", name[: -len("_joint")])
    return _write(tree, dst)


def shadow_hand_mjcf(src: Path, dst: Path) -> Path:
    """MuJoCo Menagerie's Shadow Hand E3M5, as it is (its tendons and tendon actuators drive the coupled
    finger joints); only the mesh folder is made absolute."""
    tree, meshdir = _mjcf_tree(src)
    _drop_missing_meshes(tree.getroot(), meshdir)
    return _write(tree, dst)


# --------------------------------------------------------------------------------------------------- URDF


def _origin(el: ET.Element | None) -> np.ndarray:
    """4x4 transform of a URDF ``<origin xyz rpy>`` (identity when absent)."""
    m = np.eye(4)
    if el is None:
        return m
    x, y, z = (float(v) for v in el.get("xyz", "0 0 0").split())
    r, p, yw = (float(v) for v in el.get("rpy", "0 0 0").split())
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(yw), math.sin(yw)
    m[:3, :3] = [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]
    m[:3, 3] = [x, y, z]
    return m


def _set_origin(el: ET.Element, m: np.ndarray) -> None:
    """Writes a 4x4 transform as the ``<origin>`` child of ``el``."""
    origin = el.find("origin")
    if origin is None:
        origin = ET.Element("origin")
        el.insert(0, origin)
    rot = m[:3, :3]
    pitch = math.asin(max(-1.0, min(1.0, -rot[2, 0])))
    if abs(math.cos(pitch)) > 1e-9:
        roll = math.atan2(rot[2, 1], rot[2, 2])
        yaw = math.atan2(rot[1, 0], rot[0, 0])
    else:  # gimbal lock: put everything in yaw
        roll = 0.0
        yaw = math.atan2(-rot[0, 1], rot[1, 1])
    origin.set("xyz", " ".join(f"{v:.9g}" for v in m[:3, 3]))
    origin.set("rpy", f"{roll:.9g} {pitch:.9g} {yaw:.9g}")


def _inertial(link: ET.Element) -> tuple[float, np.ndarray, np.ndarray]:
    """(mass, centre of mass, 3x3 inertia about the centre of mass, in link axes) of a URDF link."""
    inertial = link.find("inertial")
    if inertial is None:
        return 0.0, np.zeros(3), np.zeros((3, 3))
    mass_el = inertial.find("mass")
    mass = float(mass_el.get("value", "0")) if mass_el is not None else 0.0
    frame = _origin(inertial.find("origin"))
    i = inertial.find("inertia")
    inertia = np.zeros((3, 3))
    if i is not None:
        g = {k: float(i.get(k, "0")) for k in ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")}
        inertia = np.array(
            [[g["ixx"], g["ixy"], g["ixz"]], [g["ixy"], g["iyy"], g["iyz"]], [g["ixz"], g["iyz"], g["izz"]]]
        )
    rot = frame[:3, :3]
    return mass, frame[:3, 3], rot @ inertia @ rot.T


def _set_inertial(link: ET.Element, mass: float, com: np.ndarray, inertia: np.ndarray) -> None:
    for old in link.findall("inertial"):
        link.remove(old)
    inertial = ET.SubElement(link, "inertial")
    ET.SubElement(inertial, "origin", xyz=" ".join(f"{v:.9g}" for v in com), rpy="0 0 0")
    ET.SubElement(inertial, "mass", value=f"{mass:.9g}")
    ET.SubElement(
        inertial,
        "inertia",
        ixx=f"{inertia[0, 0]:.9g}",
        ixy=f"{inertia[0, 1]:.9g}",
        ixz=f"{inertia[0, 2]:.9g}",
        iyy=f"{inertia[1, 1]:.9g}",
        iyz=f"{inertia[1, 2]:.9g}",
        izz=f"{inertia[2, 2]:.9g}",
    )


def merge_fixed_links(
    root: ET.Element, keep: Callable[[str], bool], drop: Callable[[str], bool] = lambda name: False
) -> list[str]:
    """Merges every link attached by a ``fixed`` joint into its parent (mass, inertia, visuals, collisions and
    child joints move with their transforms), except links ``keep`` names; removes links ``drop`` names and
    everything below them. Returns the merged link names.
    """
    links = {link.get("name"): link for link in root.findall("link")}
    joints = root.findall("joint")

    def subtree(name: str) -> set[str]:
        out, todo = set(), [name]
        while todo:
            n = todo.pop()
            out.add(n)
            todo += [j.find("child").get("link") for j in joints if j.find("parent").get("link") == n]
        return out

    dropped: set[str] = set()
    for name in list(links):
        if drop(name) and name not in dropped:
            dropped |= subtree(name)
    for joint in list(joints):
        if joint.find("child").get("link") in dropped:
            root.remove(joint)
    for name in dropped:
        root.remove(links.pop(name))
    joints = root.findall("joint")

    merged = []
    changed = True
    while changed:
        changed = False
        for joint in root.findall("joint"):
            child_name = joint.find("child").get("link")
            if joint.get("type") != "fixed" or keep(child_name):
                continue
            parent = links[joint.find("parent").get("link")]
            child = links.pop(child_name)
            t = _origin(joint.find("origin"))  # child frame in parent frame
            # mass properties, in the parent frame
            m1, c1, i1 = _inertial(parent)
            m2, c2, i2 = _inertial(child)
            c2p = t[:3, :3] @ c2 + t[:3, 3]
            i2p = t[:3, :3] @ i2 @ t[:3, :3].T
            m = m1 + m2
            if m > 0:
                com = (m1 * c1 + m2 * c2p) / m

                def shift(inertia: np.ndarray, mass: float, c: np.ndarray, com: np.ndarray = com) -> np.ndarray:
                    d = c - com
                    return inertia + mass * (np.dot(d, d) * np.eye(3) - np.outer(d, d))

                _set_inertial(parent, m, com, shift(i1, m1, c1) + shift(i2p, m2, c2p))
            for kind in ("visual", "collision"):
                for el in child.findall(kind):
                    _set_origin(el, t @ _origin(el.find("origin")))
                    parent.append(el)
            for other in root.findall("joint"):
                if other.find("parent").get("link") == child_name:
                    other.find("parent").set("link", parent.get("name"))
                    _set_origin(other, t @ _origin(other.find("origin")))
            root.remove(joint)
            root.remove(child)
            merged.append(child_name)
            changed = True
            break
    return merged


def anymal_d_urdf(src: Path, dst: Path) -> Path:
    """ANYmal D (ANYbotics' ``anymal.urdf``) edited for IsaacLab's ANYmal-D tasks.

    Fixed links merge into their parents (mass and inertia combined) except the feet (``*_FOOT``, which the
    contact sensor and rewards name); the ``inspection_payload*`` links are dropped, and so are the
    collision cylinders of the ``*_drive`` housings (see below); mesh paths become absolute.
    """
    tree = ET.parse(src)
    root = tree.getroot()
    # The drive housings' cylinders overlap the hip and thigh shapes of the neighbouring links; with the
    # task's self-collisions on they add ~30 standing contacts per robot, beyond MuJoCo-Warp's contact budget.
    for link in root.findall("link"):
        if link.get("name", "").endswith("_drive"):
            for collision in link.findall("collision"):
                link.remove(collision)
    merge_fixed_links(root, keep=lambda n: n.endswith("_FOOT"), drop=lambda n: n.startswith("inspection_payload"))
    for mesh in root.iter("mesh"):
        file = mesh.get("filename", "")
        if file.startswith("package://"):
            file = file.split("/", 3)[-1]  # package://<pkg>/meshes/x.dae -> meshes/x.dae
            path = (src.parent.parent / file).resolve()
        elif file.startswith("file://"):
            path = Path(file[len("file://") :])
        else:
            path = (src.parent / file).resolve()
        mesh.set("filename", str(path))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tree.write(dst, encoding="unicode")
    return dst


__all__ = ["anymal_d_urdf", "go2_mjcf", "h1_mjcf", "merge_fixed_links", "shadow_hand_mjcf"]
