"""Online safety invariants, one module per protocol family: each takes plain observations
from a driver (who, when, which term, index and command) and raises ``InvariantViolation``
naming the rule it saw broken. Imports nothing of raftsim and never simpy."""

from .raft import InvariantViolation, RaftInvariants

__all__ = ["InvariantViolation", "RaftInvariants"]
