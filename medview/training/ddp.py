"""DistributedDataParallel under ``torchrun``: the same training code runs in one process or in several.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them training is single-process
and every helper here is a no-op. Only rank 0 writes files; decisions that end an epoch early (cancel,
time budget) are agreed by all ranks so none waits forever in a collective.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job; ``world_size == 1`` when not under ``torchrun``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes checkpoints, weights, versions and progress."""
        return self.rank == 0


def from_env() -> Distributed:
    """This process's place as ``torchrun`` describes it, without joining the group."""
    return Distributed(
        int(os.environ.get("RANK", "0")),
        int(os.environ.get("WORLD_SIZE", "1")),
        int(os.environ.get("LOCAL_RANK", "0")),
    )


def init_from_env(device: torch.device) -> Distributed:
    """Join the process group ``torchrun`` describes: gloo on CPU, NCCL on CUDA; single-process otherwise."""
    distributed = from_env()
    if distributed.active and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return distributed


def process_device(device: torch.device, distributed: Distributed) -> torch.device:
    """On CUDA each process takes the GPU of its local rank."""
    if device.type == "cuda" and distributed.active:
        torch.cuda.set_device(distributed.local_rank)
        return torch.device("cuda", distributed.local_rank)
    return device


def any_rank(flag: bool, distributed: Distributed, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any of them."""
    if not distributed.active:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def sum_over_ranks(values: list[float], distributed: Distributed, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (e.g. loss sums and step counts)."""
    if not distributed.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def gather(values: list, distributed: Distributed) -> list:
    """Every rank's ``values`` (lists of any length, e.g. per-case validation scores) joined in rank
    order, on every rank."""
    if not distributed.active:
        return values
    parts: list[list] = [[] for _ in range(distributed.world_size)]
    dist.all_gather_object(parts, values)
    return [value for part in parts for value in part]


def broadcast(value: object, distributed: Distributed) -> object:
    """Rank 0's ``value`` on every rank (e.g. the run folder rank 0 created)."""
    if not distributed.active:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(distributed: Distributed) -> None:
    """Wait for every rank (e.g. until rank 0 has written a checkpoint)."""
    if distributed.active:
        dist.barrier()


def shutdown(distributed: Distributed) -> None:
    """Leave the process group."""
    if distributed.active and dist.is_initialized():
        dist.destroy_process_group()
