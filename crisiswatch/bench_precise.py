"""``crisiswatch bench nlp --tier precise``: the precise tier's speed and memory on real posts
(targets: at least 60 posts/s on 2 cores, under 1.5 GB).

The posts are re-tagged as ``tag --precise`` re-tags them (``PreciseTier.tags``: sentiment,
emotion and polarity, a batch of 1,000 at a time), without the store, in a fresh Python
process (``python -m crisiswatch.bench_precise MODELS``, the texts as JSON on its stdin):
its peak memory is then the tier's own (torch, the two int8 models, their batches), not
what this process read or loaded before.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

from core.settings import Settings
from nlp.precise import PreciseTier, problem

BATCH = 1000  # posts per call, as the tag stage's batches


def bench_precise(settings: Settings, limit: int, say=print) -> dict:
    """Re-tag the corpus's first ``limit`` posts with the home's precise models in a child process."""
    from crisiswatch.bench import corpus_texts

    reason = problem(settings.models_dir)
    if reason:
        raise FileNotFoundError(f"precise tier off: {reason}")
    missing = [name for name in ("torch", "transformers") if find_spec(name) is None]
    if missing:
        raise ImportError(f"no module named {', '.join(missing)}")
    texts = corpus_texts(settings.data_dir, limit)
    say(f"re-tagging {len(texts)} posts with the precise tier in a fresh process")
    child = subprocess.run([sys.executable, "-m", "crisiswatch.bench_precise", str(settings.models_dir)],
                           input=json.dumps(texts, ensure_ascii=False), capture_output=True, text=True,
                           encoding="utf-8")
    if child.returncode != 0:
        raise RuntimeError(f"the precise tier's benchmark failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout)


def measure(models_dir: Path, texts: list[str]) -> dict:
    """Load the precise tier and time its tags of ``texts``; the process's peak memory and torch's threads."""
    import torch

    tier = PreciseTier.load(models_dir)
    tier.tags(list(range(64)), texts[:64])  # the first batch builds torch's kernels: not timed
    start = time.perf_counter()
    for first in range(0, len(texts), BATCH):
        batch = texts[first:first + BATCH]
        tier.tags(list(range(first, first + len(batch))), batch)
    seconds = time.perf_counter() - start
    return {
        "tier": "precise",
        "posts": len(texts),
        "posts_per_s": round(len(texts) / seconds, 1),
        "chars_per_s": round(sum(map(len, texts)) / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # Linux: in KiB
        "threads": torch.get_num_threads(),
        "models": tier.version,
    }


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), json.load(sys.stdin))))
