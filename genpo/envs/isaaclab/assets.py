"""What an IsaacLab task needs from disk: the offline asset root on request, and which asset files are missing."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from torch import Tensor

LOCAL_ASSETS_ENV = "GENPO_ISAACLAB_LOCAL_ASSETS"
"""``1`` builds the offline asset root in the default cache folder; a path builds it there; unset/``0``: off."""

_ASSET_KEYS = ("usd_path", "network_file", "urdf_path", "mjcf_path", "asset_path")


def _local_assets_request(local_assets: bool | str | os.PathLike[str] | None) -> Path | None:
    """Where to build the offline asset root, from the option or ``GENPO_ISAACLAB_LOCAL_ASSETS``; None: off."""
    from genpo.envs.isaaclab.asset_root import default_asset_root_dir

    value: Any = local_assets
    if value is None:
        value = os.environ.get(LOCAL_ASSETS_ENV, "")
    if isinstance(value, bool):
        return default_asset_root_dir() if value else None
    text = os.fspath(value).strip()
    if text.lower() in ("", "0", "false", "no", "off"):
        return None
    if text.lower() in ("1", "true", "yes", "on"):
        return default_asset_root_dir()
    return Path(text)


def use_local_assets(
    local_assets: bool | str | os.PathLike[str] | None = True,
    robots_dir: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Builds the offline asset root and points ``ISAACSIM_ASSET_ROOT`` at it (before isaaclab is imported).

    Args:
        local_assets: ``True`` (default cache folder), a folder, ``False`` (do nothing), or ``None`` (read
            ``GENPO_ISAACLAB_LOCAL_ASSETS``).
        robots_dir: Folder of public robot descriptions for the stand-in robots (``None``: read
            ``GENPO_ROBOTS_DIR``; without either, only the robots needing no descriptions are built).

    Returns:
        The asset root, or ``None`` when not requested.

    Raises:
        RuntimeError: When isaaclab was already imported with another asset root (it reads the variable once).
    """
    from genpo.envs.isaaclab.asset_root import ASSET_ROOT_ENV, build_local_asset_root

    where = _local_assets_request(local_assets)
    if where is None:
        return None
    root = build_local_asset_root(where, robots_dir=robots_dir)
    loaded = sys.modules.get("isaaclab.utils.assets")
    if loaded is not None:
        current = str(getattr(loaded, "NUCLEUS_ASSET_ROOT_DIR", ""))
        if os.path.normpath(current) != os.path.normpath(str(root)):
            raise RuntimeError(
                f"isaaclab was imported with asset root {current!r} before the local asset root {str(root)!r} was "
                f"set; IsaacLab reads {ASSET_ROOT_ENV} once, on import. Set {LOCAL_ASSETS_ENV}=1 (or "
                f"{ASSET_ROOT_ENV}={root}) before anything imports isaaclab, or make the first IsaacLab "
                "environment of the process with local_assets=True."
            )
        return root
    os.environ[ASSET_ROOT_ENV] = str(root)
    return root


def _walk_asset_paths(node: Any, found: set[str], seen: set[int], depth: int = 0) -> None:
    """Collects asset file references (``usd_path``, ``network_file``, ...) from a config tree."""
    if depth > 40 or id(node) in seen or node is None or isinstance(node, (str, bytes, int, float, bool, Tensor)):
        return
    seen.add(id(node))
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, (list, tuple)):
        children = [(None, c) for c in node]
    else:
        module = type(node).__module__ or ""
        if not module.startswith("isaaclab") or not hasattr(node, "__dict__"):
            return
        children = list(vars(node).items())
    for key, child in children:
        if isinstance(child, str) and key in _ASSET_KEYS and child:
            found.add(child)
        else:
            _walk_asset_paths(child, found, seen, depth + 1)


def asset_blockers(cfg: Any) -> list[str]:
    """Asset files a task config needs that are not on this machine (remote URLs or missing local files).

    Args:
        cfg: An IsaacLab env config (from ``parse_env_cfg``).

    Returns:
        One line per missing asset, empty when every referenced file exists locally. A stand-in robot that the
        local asset root could not build says why (no robot descriptions folder, converter not installed).
    """
    from genpo.envs.isaaclab.asset_root import ASSET_ROOT_ENV
    from genpo.envs.isaaclab.robots import STAND_INS, unavailable_stand_ins

    found: set[str] = set()
    _walk_asset_paths(cfg, found, set())
    root = os.environ.get(ASSET_ROOT_ENV, "")
    why: dict[str, str] = {}
    if root:
        unavailable = unavailable_stand_ins(Path(root))
        for spec in STAND_INS:
            reason = unavailable.get(spec.asset_path, f"{spec.robot}: not built")
            why[os.path.normpath(os.path.join(root, spec.asset_path))] = reason
    out = []
    for ref in sorted(found):
        if "://" in ref:
            out.append(f"remote asset {ref} (needs network access and omni.client)")
        elif not os.path.exists(ref):
            reason = why.get(os.path.normpath(ref))
            out.append(f"missing asset {ref}" + (f" (stand-in {reason})" if reason else ""))
    return out
