"""Stand-in robots of the local IsaacLab asset root: source edits, USD layout, cache and errors (no IsaacLab run)."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from genpo.envs.isaaclab import robots
from genpo.envs.isaaclab.robot_sources import go2_mjcf, h1_mjcf, merge_fixed_links
from genpo.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("GENPO_ROBOTS_DIR") or REPO.parent / "shared" / "isaaclab-robots")
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the robot descriptions folder {SHARED} is missing (see docs/isaaclab.md)"
)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


needs_usd = pytest.mark.skipif(not _has("pxr"), reason="pxr (usd-exchange) is not installed")


def test_missing_folder_and_missing_file_name_the_robot_and_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        robots.check_robots_dir(tmp_path / "nowhere")
    (tmp_path / "unitree_go2").mkdir()
    with pytest.raises(ConfigError, match=r"Unitree Go2 \(go2\) needs .*unitree_go2/go2\.xml"):
        robots.check_robots_dir(tmp_path)


def test_robots_dir_option_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(robots.ROBOTS_DIR_ENV, str(tmp_path / "env"))
    assert robots.robots_dir_request() == (tmp_path / "env").resolve()
    assert robots.robots_dir_request(tmp_path / "opt") == (tmp_path / "opt").resolve()
    monkeypatch.delenv(robots.ROBOTS_DIR_ENV)
    assert robots.robots_dir_request() is None


URDF = """<robot name="r">
  <link name="base"><inertial><origin xyz="0 0 0"/><mass value="2"/>
    <inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial></link>
  <joint name="base_to_box" type="fixed"><parent link="base"/><child link="box"/>
    <origin xyz="1 0 0" rpy="0 0 1.5707963"/></joint>
  <link name="box"><inertial><origin xyz="0 1 0"/><mass value="1"/>
    <inertia ixx="0.5" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>
    <collision><origin xyz="0 0 0"/><geometry><box size="1 1 1"/></geometry></collision></link>
  <joint name="hip" type="revolute"><parent link="box"/><child link="leg"/>
    <origin xyz="0 0 1"/><axis xyz="0 1 0"/></joint>
  <link name="leg"/>
  <joint name="leg_to_FOOT" type="fixed"><parent link="leg"/><child link="LF_FOOT"/></joint>
  <link name="LF_FOOT"/>
  <joint name="p" type="fixed"><parent link="base"/><child link="inspection_payload"/></joint>
  <link name="inspection_payload"/>
</robot>"""


def test_merge_fixed_links_combines_mass_and_moves_children():
    root = ET.fromstring(URDF)
    merged = merge_fixed_links(
        root, keep=lambda n: n.endswith("_FOOT"), drop=lambda n: n.startswith("inspection_payload")
    )
    assert merged == ["box"]
    assert sorted(link.get("name") for link in root.findall("link")) == ["LF_FOOT", "base", "leg"]
    inertial = root.find("link[@name='base']/inertial")
    assert float(inertial.find("mass").get("value")) == pytest.approx(3.0)
    # the box's centre of mass (0, 1, 0) in its frame is (0, 1, 0) rotated by 90 deg about z plus (1, 0, 0) = (0, 0, 0)
    com = np.array([float(v) for v in inertial.find("origin").get("xyz").split()])
    np.testing.assert_allclose(com, [0.0, 0.0, 0.0], atol=1e-6)
    i = inertial.find("inertia")
    # the box's ixx (0.5) becomes iyy after the 90 deg turn; its centre of mass sits on the combined one
    assert float(i.get("ixx")) == pytest.approx(1.0, abs=1e-6)
    assert float(i.get("iyy")) == pytest.approx(1.5, abs=1e-6)
    hip = root.find("joint[@name='hip']")
    assert hip.find("parent").get("link") == "base"
    xyz = [float(v) for v in hip.find("origin").get("xyz").split()]
    np.testing.assert_allclose(xyz, [1.0, 0.0, 1.0], atol=1e-6)
    assert root.find("link[@name='base']/collision") is not None
    assert root.find("joint[@name='leg_to_FOOT']") is not None  # the foot is kept


@needs_shared
def test_go2_edit_renames_the_trunk_and_gives_the_feet_their_spheres(tmp_path):
    out = go2_mjcf(SHARED / "unitree_go2" / "go2.xml", tmp_path / "go2.xml")
    root = ET.parse(out).getroot()
    names = {b.get("name") for b in root.iter("body")}
    assert "base" in names and "base_link" not in names
    for leg in ("FL", "FR", "RL", "RR"):
        foot = root.find(f".//body[@name='{leg}_foot']")
        assert [g.get("name") for g in foot.findall("geom")] == [leg]
        assert root.find(f".//body[@name='{leg}_calf']/geom[@name='{leg}']") is None
    assert root.find("actuator") is None
    meshdir = Path(root.find("compiler").get("meshdir"))
    assert all((meshdir / m.get("file")).is_file() for m in root.iter("mesh"))


@needs_shared
def test_h1_edit_drops_the_joint_suffix(tmp_path):
    root = ET.parse(h1_mjcf(SHARED / "unitree_h1" / "mjcf" / "h1.xml", tmp_path / "h1.xml")).getroot()
    joints = {j.get("name") for j in root.iter("joint") if j.get("name")}
    assert {"left_knee", "torso", "right_elbow"} <= joints
    assert not any(j.endswith("_joint") for j in joints)


@needs_usd
@needs_shared
@pytest.mark.skipif(not _has("mujoco_usd_converter"), reason="mujoco-usd-converter is not installed")
def test_go2_stand_in_is_flat_keeps_world_poses_and_is_cached(tmp_path, monkeypatch):
    from pxr import Usd, UsdGeom, UsdPhysics

    # a copy of the Go2 folder only: the check of the folder's layout is left out here
    monkeypatch.setattr(robots, "STAND_INS", tuple(s for s in robots.STAND_INS if s.name == "go2"))
    src = tmp_path / "robots"
    shutil.copytree(SHARED / "unitree_go2", src / "unitree_go2")
    root = tmp_path / "root"
    assert robots.build_stand_ins(root, src) == {"go2": "built"}
    assert robots.build_stand_ins(root, src) == {"go2": "cached"}
    stage = Usd.Stage.Open(str(root / "Isaac/IsaacLab/Robots/Unitree/Go2/go2.usd"))
    top = stage.GetDefaultPrim()
    bodies = [p for p in Usd.PrimRange(top) if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    assert {p.GetName() for p in bodies} >= {"base", "FL_foot", "RR_calf"}
    assert all(p.GetParent() == top for p in bodies)  # every body is a direct child of the robot prim
    cache = UsdGeom.XformCache()
    base = cache.GetLocalToWorldTransform(stage.GetPrimAtPath(top.GetPath().AppendChild("base"))).ExtractTranslation()
    foot = cache.GetLocalToWorldTransform(stage.GetPrimAtPath(top.GetPath().AppendChild("FL_foot")))
    # go2.xml: base at z=0.445; FL foot at base + hip (0.1934, 0.0465, 0) + thigh (0, 0.0955, 0) + 2 x (0, 0, -0.213)
    np.testing.assert_allclose(list(base), [0, 0, 0.445], atol=1e-5)
    np.testing.assert_allclose(list(foot.ExtractTranslation()), [0.1934, 0.142, 0.445 - 0.426], atol=1e-5)
    for prim in Usd.PrimRange(top):  # joints name bodies that exist
        if prim.IsA(UsdPhysics.Joint):
            for rel in (UsdPhysics.Joint(prim).GetBody0Rel(), UsdPhysics.Joint(prim).GetBody1Rel()):
                assert all(stage.GetPrimAtPath(t) for t in rel.GetTargets()), prim.GetPath()
    report = json.loads((root / robots.KEYS_FOLDER / "go2.json").read_text())
    assert report["licence"] == "BSD-3-Clause"
    # a changed source file changes the key: the stand-in is rebuilt
    (src / "unitree_go2" / "LICENSE").write_text("changed")
    assert robots.build_stand_ins(root, src) == {"go2": "built"}


def test_a_missing_converter_makes_its_robots_unavailable_not_faked(tmp_path, monkeypatch):
    monkeypatch.setattr(robots, "STAND_INS", tuple(s for s in robots.STAND_INS if s.name in ("go2", "anymal-d")))
    monkeypatch.setattr(robots, "converter_version", lambda kind: None)
    monkeypatch.setattr(robots, "check_robots_dir", lambda folder: None)
    status = robots.build_stand_ins(tmp_path / "root", tmp_path)
    assert status["go2"].startswith("unavailable: mujoco-usd-converter is not installed")
    assert status["anymal-d"].startswith("unavailable: urdf-usd-converter is not installed")
    assert not (tmp_path / "root" / robots.STAND_INS[0].asset_path).exists()
    unavailable = robots.unavailable_stand_ins(tmp_path / "root")
    assert "mujoco-usd-converter" in unavailable["Isaac/IsaacLab/Robots/Unitree/Go2/go2.usd"]


def test_without_a_descriptions_folder_only_the_folder_free_stand_ins_are_built(tmp_path, monkeypatch):
    monkeypatch.setattr(robots, "STAND_INS", tuple(s for s in robots.STAND_INS if s.name in ("go2", "dex-cube")))
    if not _has("pxr"):
        pytest.skip("pxr (usd-exchange) is not installed")
    status = robots.build_stand_ins(tmp_path, None)
    assert status["go2"].startswith("unavailable: no robot descriptions folder")
    assert status["dex-cube"] == "built"


def test_robots_dir_without_the_local_asset_root_is_refused(tmp_path, monkeypatch):
    from genpo.envs.isaaclab import launch

    monkeypatch.setattr(launch, "isaaclab_generation", lambda: 3)
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: object())
    monkeypatch.delenv("GENPO_ISAACLAB_LOCAL_ASSETS", raising=False)
    with pytest.raises(ValueError, match=r"robots_dir=.* set local_assets=true"):
        launch.make_isaaclab_env("Isaac-Velocity-Flat-H1", robots_dir=tmp_path, local_assets=False)
