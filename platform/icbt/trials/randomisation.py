"""Blocked randomisation, reproducible from a seed. Pure functions, no database.

For each stratum the seed defines an endless sequence of permuted blocks: each block's size
is drawn from ``block_sizes`` (e.g. 2 or 4, so the block boundaries cannot be guessed) and
holds every arm equally often, in a random order. The n-th participant randomised in a
stratum gets element n of that stratum's sequence.

The random numbers come from ``random.Random(key).random()`` only, whose output for a given
seed Python guarantees across versions (``shuffle``/``choice`` make no such promise), and
each stratum has its own generator keyed by a hash of (seed, stratum), so strata never
influence each other and adding a stratum changes nothing elsewhere.
"""
from __future__ import annotations

import hashlib
import random
from typing import Iterator, Sequence

ARMS: tuple[str, ...] = ("treatment", "waitlist")
DEFAULT_BLOCK_SIZES: tuple[int, ...] = (2, 4)


def _stratum_rng(seed: int, stratum: str) -> random.Random:
    digest = hashlib.sha256(f"{int(seed)}:{stratum}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _below(rng: random.Random, n: int) -> int:
    return min(int(rng.random() * n), n - 1)


def check_block_sizes(block_sizes: Sequence[int], arms: Sequence[str] = ARMS) -> None:
    if not block_sizes:
        raise ValueError("at least one block size is needed")
    for size in block_sizes:
        if not isinstance(size, int) or size <= 0 or size % len(arms):
            raise ValueError(f"block size {size!r} must be a positive multiple of the number of arms ({len(arms)})")


def blocks(seed: int, stratum: str, *, block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
           arms: Sequence[str] = ARMS) -> Iterator[list[str]]:
    """The stratum's permuted blocks, one after another, for ever."""
    check_block_sizes(block_sizes, arms)
    rng = _stratum_rng(seed, stratum)
    while True:
        size = block_sizes[_below(rng, len(block_sizes))]
        block = [arm for arm in arms for _ in range(size // len(arms))]
        for i in range(len(block) - 1, 0, -1):  # Fisher-Yates
            j = _below(rng, i + 1)
            block[i], block[j] = block[j], block[i]
        yield block


def sequence(seed: int, stratum: str, n: int, *, block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
             arms: Sequence[str] = ARMS) -> list[str]:
    """The first ``n`` allocations of the stratum."""
    out: list[str] = []
    for block in blocks(seed, stratum, block_sizes=block_sizes, arms=arms):
        out.extend(block)
        if len(out) >= n:
            return out[:n]
    return out  # pragma: no cover - blocks() never ends


def allocation_at(seed: int, stratum: str, index: int, *, block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
                  arms: Sequence[str] = ARMS) -> str:
    """The arm of the ``index``-th (0-based) participant randomised in ``stratum``."""
    if index < 0:
        raise ValueError("index must be 0 or more")
    return sequence(seed, stratum, index + 1, block_sizes=block_sizes, arms=arms)[index]
