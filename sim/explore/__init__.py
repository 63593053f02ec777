"""The exhaustive explorer: a model checker over the same step functions the simulator runs.

Built on the synchronous cluster (``sim.cluster``): ``model`` (global states, transitions,
bounds; ``links``: what a lossy link keeps), ``fingerprint`` (canonical fingerprints, symmetry reduction), ``search`` (BFS, DFS,
random walks; properties and ``sometimes`` goals come from outside as objects), ``targets``
(Raft, KV, a user's step function). ``raftsim explore`` (scenarios/cli/explore.py) wires the
Raft invariants and the linearizability checker in. See docs/explorer.md.

Never imports simpy, never reads a clock but to report progress, never draws from a source
that is not seeded.
"""

from sim.explore.fingerprint import Fingerprinter, encode_state
from sim.explore.model import (
    CRASHES, DROPS, DUPS, OPS, OVERFLOWS, PARTITIONS, SPENT_NAMES, Bounds, BoundsError, Label,
    Model, Step, XState, describe, successors, take,
)
from sim.explore.search import (
    CHANGES, READS, UNSEEN, STRATEGIES, Counterexample, Goal, Interrupted, Progress, Property, Result, Violation, explore,
    walk,
)
from sim.explore.targets import TARGETS, kv_model, kv_op, raft_model

__all__ = [
    "Bounds", "BoundsError", "Label", "Model", "Step", "XState", "describe", "successors",
    "take", "OPS", "CRASHES", "DROPS", "DUPS", "PARTITIONS", "SPENT_NAMES", "OVERFLOWS",
    "Fingerprinter", "encode_state",
    "UNSEEN", "READS", "CHANGES", "STRATEGIES", "Counterexample", "Goal", "Interrupted", "Progress", "Property", "Result",
    "Violation", "explore", "walk", "TARGETS", "raft_model", "kv_model", "kv_op",
]
