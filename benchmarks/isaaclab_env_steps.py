"""Raw env-steps/s of an IsaacLab task through genpo's adapter, with random actions (no policy, no learning).

    python benchmarks/isaaclab_env_steps.py --task Isaac-Ant-Direct --num-envs 64 --device cpu --steps 500

Offline machines: add ``--local-assets`` (builds the asset root of docs/isaaclab.md). Prints one JSON line:
``env_steps_per_s`` is steps x envs / wall time; ``quiet_env_steps_per_s`` is envs / the 10th percentile of
single-step times, an estimate of the speed without other load on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from genpo.envs import make_env


def main() -> None:
    """Parses the arguments, steps the task, prints the throughput."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="Isaac-Ant-Direct")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=500, help="timed steps (after --warmup untimed ones)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--local-assets", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    env = make_env(
        f"isaaclab:{args.task}",
        num_envs=args.num_envs,
        device=args.device,
        seed=0,
        local_assets=True if args.local_assets else None,
    )
    made = time.perf_counter() - start
    try:
        env.reset()
        shape = (env.num_envs, env.action_dim)
        for _ in range(args.warmup):
            env.step(torch.rand(shape, device=env.device) * 2 - 1)
        if env.device.type == "cuda":
            torch.cuda.synchronize()
        sync = torch.cuda.synchronize if env.device.type == "cuda" else (lambda: None)
        times = []
        t0 = time.perf_counter()
        for _ in range(args.steps):
            t = time.perf_counter()
            env.step(torch.rand(shape, device=env.device) * 2 - 1)
            sync()
            times.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - t0
        p10 = sorted(times)[len(times) // 10]
    finally:
        env.close()
    print(
        json.dumps(
            {
                "task": env.env_id,
                "num_envs": args.num_envs,
                "device": args.device,
                "steps": args.steps,
                "env_steps_per_s": round(args.steps * args.num_envs / elapsed, 1),
                "ms_per_step": round(1000 * elapsed / args.steps, 2),
                "quiet_env_steps_per_s": round(args.num_envs / p10, 1),
                "make_s": round(made, 1),
                "torch_threads": torch.get_num_threads(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
