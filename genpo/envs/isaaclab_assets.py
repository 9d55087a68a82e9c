"""Kept for imports written before the IsaacLab backend became a package: see :mod:`genpo.envs.isaaclab.asset_root`."""

from genpo.envs.isaaclab.asset_root import (  # noqa: F401
    ANT_PATH,
    ASSET_ROOT_ENV,
    CARTPOLE_PATH,
    GROUND_PLANE_PATH,
    build_local_asset_root,
    default_asset_root_dir,
)
