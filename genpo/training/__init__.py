"""The trainer: configuration, rollout storage, the PPO update, the loop, checkpoints, distributed plumbing."""

from genpo.training.config import AlgoConfig, EnvConfig, PolicyConfig, RunConfig, TrainConfig
from genpo.training.runner import Trainer, TrainResult

__all__ = ["AlgoConfig", "EnvConfig", "PolicyConfig", "RunConfig", "TrainConfig", "TrainResult", "Trainer"]
