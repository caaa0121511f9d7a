"""The load generator keeps its collector off what a timed phase only reads.

Unfrozen, a full collection of the load generator walked its sockets, roster and
sealed frames: 90-155 ms without reading a frame, counted as the server's latency
(docs/benchmarks.md, "Eleventh step"). In a child process: freezing is for the whole
interpreter, and the test session's own collector must stay as it is.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import carechat_bench
from carechat_bench import loader

_CHILD = textwrap.dedent(
    """
    import gc
    from carechat_bench.loader import _settle_gc

    class Socket:  # what a phase holds: containers that live from set-up to the end
        def __init__(self, n):
            self.frames = [{"type": "send", "n": n}]

    kept = [Socket(n) for n in range(20_000)]
    gc.collect()
    walked_before = len(gc.get_objects(generation=2))
    _settle_gc()
    walked_after = len(gc.get_objects(generation=2))
    fresh = [Socket(n) for n in range(100)]  # a phase's own objects are still collected
    print(walked_before, walked_after, gc.get_freeze_count(), gc.is_tracked(fresh[0]))
    """
)


def test_a_settled_load_generator_leaves_its_set_up_out_of_full_collections() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    walked_before, walked_after, frozen = (int(x) for x in out[:3])
    assert walked_before > 60_000  # 20,000 sockets, their dicts, lists and frames
    assert walked_after < 1_000
    assert frozen >= 60_000
    assert out[3] == "True"


TIMED = frozenset({"closed", "open", "flood", "echo"})


def test_every_timed_phase_follows_a_command_that_settles_the_collector() -> None:
    assert not TIMED & loader._PREPARING  # settling inside a phase would be timed
    runners = sorted(Path(carechat_bench.__file__).parent.glob("*.py"))
    checked = 0
    for path in runners:
        calls = re.findall(r'\.call\(\s*"(\w+)"', path.read_text())
        for before, name in itertools.pairwise(calls):
            if name in TIMED:
                assert before in loader._PREPARING, f"{path.name}: {name} after {before}"
                checked += 1
    assert checked >= 10  # runner, soak, flood, mailing and retention phases
