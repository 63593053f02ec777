"""Linearizability checking for raftsim histories (and Porcupine / Jepsen logs, Jepsen history.edn).

``check(model, history, timeout=None)`` decides whether a history of client operations is
linearizable with respect to a sequential ``Model``: Wing–Gong search with Lowe's memoization,
P-compositionality through the model's ``partition``, and operations with unknown outcomes.
This package imports nothing from protocols/, sim/ or scenarios/ and never imports simpy.
"""

from .checker import (DEFAULT_MAX_CACHE, CheckResult, PartialLinearization, PartitionResult, Verdict,
                      check)
from .formats import (FORMATS, HistoryError, HistoryWriter, LoadedHistory, dump_history,
                      history_from_events, load_history)
from .model import INFINITY, UNKNOWN, DecodeError, Model, Operation, partition_by_key
from .models import (MODELS, CasInput, KvInput, RegisterInput, VersionedInput, VersionedOutput,
                     cas_register_model, get_model, kv_model, register_model, versioned_kv_model)

__all__ = [
    "check", "CheckResult", "PartitionResult", "PartialLinearization", "Verdict",
    "DEFAULT_MAX_CACHE",
    "Operation", "Model", "UNKNOWN", "INFINITY", "DecodeError", "partition_by_key",
    "MODELS", "get_model", "register_model", "kv_model", "cas_register_model",
    "versioned_kv_model", "RegisterInput", "KvInput", "CasInput", "VersionedInput",
    "VersionedOutput",
    "load_history", "LoadedHistory", "HistoryError", "FORMATS", "HistoryWriter",
    "dump_history", "history_from_events",
]
