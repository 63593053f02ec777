"""``raftsim explore TARGET``: search every interleaving of a small cluster, within bounds.

Exit 1 on a violation (printed as the shortest path found, and written with ``--trace`` as a
counterexample that ``raftsim explore --replay FILE`` and ``raftsim replay FILE`` take again,
checking its digest, and that ``raftsim report FILE --html OUT`` draws), 0 when the search
ended without one (saying which bounds it hit), 2 on bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import math
import os
import sys
from typing import Annotated, Any, Callable, Optional, Sequence

import msgspec

from protocols import raft
from protocols.core import Effect
from scenarios.cli.common import MAX_SEED, check_outputs
from scenarios.errors import EXIT_FAIL, EXIT_OK, BadInput
from scenarios.explore import Linearizable, RaftSafety, ShardSafety, raft_goals, shardkv_goals
from sim.explore import (
    STRATEGIES, TARGETS, Bounds, BoundsError, Counterexample, Interrupted, Model, Progress,
    Result,
    Violation, describe, encode_state, explore, raft_model, successors,
)
from sim.explore.por import describe_reduction
from sim.explore.search import MEMORY_SHARE
from sim.explore.targets import config_changes

__all__ = ["add_parser", "run", "build", "is_counterexample", "replay", "retake", "PROPERTIES"]

#: Properties by name, and the targets each applies to.
PROPERTIES = {"raft": ("raft", "kv"), "linearizability": ("kv", "shardkv"),
              "shards": ("shardkv",)}
_PROPERTY_CHECKERS: dict[str, Any] = {"raft": RaftSafety, "linearizability": Linearizable,
                                      "shards": ShardSafety}
FORMAT = "raftsim-explore-counterexample/1"
_MAX_NODES = {"raft": (1, 7), "kv": (1, 5), "shardkv": (1, 3)}
_DEFAULT_NODES = {"raft": 3, "kv": 3, "shardkv": 1}
_MAX_CLIENTS = {"kv": 3, "shardkv": 2}
#: Bounds whose default differs for a target: a sharded store's logs hold every configuration
#: change, migration step and controller query, so they need room to reach a migration.
_TARGET_BOUNDS: dict[str, dict[str, int]] = {"shardkv": {"max_log": 6}}
#: The sharded store's own options: (dest, flag, default, lowest, highest or None).
_SHARD_OPTIONS = (("groups", "--groups", 2, 1, 3), ("changes", "--changes", 1, 0, None),
                  ("shards", "--shards", 2, 1, 10))


def add_parser(sub: Any) -> None:
    p = sub.add_parser("explore", help="exhaustively explore a small cluster (model checking)")
    p.add_argument("target", nargs="?", help=f"what to explore: {', '.join(TARGETS)}")
    p.add_argument("--nodes", type=int, default=None,
                   help="servers (raft, kv: default 3), or servers per group (shardkv: "
                        "default 1)")
    p.add_argument("--clients", type=int, default=None,
                   help="KV clerks (kv, shardkv; default 1)")
    p.add_argument("--groups", type=int, default=None,
                   help="replica groups, gids 1.. (shardkv; 1 to 3, default 2)")
    p.add_argument("--changes", type=int, default=None,
                   help="configuration changes the administrator makes after group 1 "
                        "joined, in order: a Join of each other group, then a Move, a Leave "
                        "and a Join (shardkv; default 1, 0 with one group)")
    p.add_argument("--shards", type=int, default=None,
                   help="shards of the store (shardkv; 1 to 10, default 2)")
    p.add_argument("--snapshots", action="store_true",
                   help="servers may snapshot what they applied (InstallSnapshot then flows)")
    p.add_argument("--step", metavar="MODULE:NAME",
                   help="run this step function instead of raft.step (raft target): NAME in "
                        "an importable MODULE, or in a file FILE.py:NAME")
    p.add_argument("--strategy", choices=STRATEGIES, default="bfs",
                   help="bfs: breadth first, the shortest counterexample (default); dfs: depth "
                        "first to --depth; random: --walks random walks from --seed")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the random walks (random strategy; 0 to 2**63-1, default 0)")
    p.add_argument("--walks", type=int, default=None,
                   help="random walks to take (random strategy; default 1000)")
    p.add_argument("--symmetry", action="store_true",
                   help="take states that differ only by a renaming of the servers as one "
                        "(raft: any permutation; kv: rotations only; shardkv has none and "
                        "refuses it)")
    p.add_argument("--compare-symmetry", action="store_true",
                   help="search twice, without and with symmetry, and report both counts")
    p.add_argument("--por", action="store_true",
                   help="partial-order reduction by sleep sets (bfs only; off by default): "
                        "the same states and verdicts, fewer transitions taken, but more CPU "
                        "today (see docs/explorer.md)")
    p.add_argument("--keep-sent", action="store_true",
                   help="what a server sent before it crashed stays on the wire (default: lost "
                        "with it, as on the simulator's network)")
    p.add_argument("--property", action="append", metavar="NAME",
                   help=f"a property to check; repeat the option for several (default all "
                        f"that apply: {', '.join(PROPERTIES)})")
    b = p.add_argument_group("bounds")
    defaults = Bounds()
    for name, help_text in (
            ("max-term", "highest term a state may reach and still be expanded"),
            ("max-log", "longest log (last index) of an expanded state"),
            ("ops", "client operations (proposals) per path"),
            ("crashes", "crashes per path (a mid-step crash counts as one)"),
            ("drops", "messages lost per path"), ("dups", "messages duplicated per path"),
            ("partitions", "partitions (one server cut off) per path"),
            ("per-link", "messages in flight per link in an expanded state"),
            ("depth", "longest path"), ("states", "distinct states kept (memory budget)")):
        attr = name.replace("-", "_")
        special = "".join(f"; {t}: {d[attr]}" for t, d in _TARGET_BOUNDS.items() if attr in d)
        b.add_argument(f"--{name}", dest=attr, type=int, default=None,
                       help=f"{help_text} (default {getattr(defaults, attr)}{special})")
    b.add_argument("--no-mid-step", action="store_true",
                   help="crashes only between steps, never between two effects of one")
    b.add_argument("--overflow", metavar="{stop,lose-oldest}", default=None,
                   help="what a send onto a link holding --per-link messages does: stop "
                        "(default; the state is judged but not expanded) or lose-oldest (the "
                        "link's oldest message is lost, as a lossy network may: reaches deep "
                        "schedules within a small --per-link)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--trace", metavar="FILE", help="write a counterexample here")
    p.add_argument("--replay", metavar="FILE", help="take a written counterexample again")
    p.add_argument("--progress", type=float, default=10.0, metavar="SECONDS",
                   help="print progress this often (default 10)")
    p.set_defaults(func=run)
    _OPTIONS[:] = [(a.dest, a.option_strings[0] if a.option_strings else a.dest.upper(),
                    a.default) for a in p._actions if a.dest not in ("help", "replay", "json")]


#: (dest, option, default) of every explore option but --replay and --json: those a replay
#: refuses (the counterexample file fixes the target, the bounds and everything else).
_OPTIONS: list[tuple[str, str, Any]] = []


_BOUND_NAMES = ("max_term", "max_log", "ops", "crashes", "drops", "dups", "partitions",
                "per_link", "depth", "states")


def _bounds(args: argparse.Namespace) -> Bounds:
    """The bounds given, the target's defaults for the others."""
    defaults = {**{f: getattr(Bounds(), f) for f in _BOUND_NAMES},
                **_TARGET_BOUNDS.get(args.target, {})}
    given = {f: defaults[f] if getattr(args, f) is None else getattr(args, f)
             for f in _BOUND_NAMES}
    overflow = "stop" if args.overflow is None else args.overflow
    try:
        return Bounds(**given, mid_step=not args.no_mid_step, snapshots=args.snapshots,
                      overflow=overflow).validate()
    except BoundsError as exc:
        value = repr(exc.value) if isinstance(exc.value, str) else exc.value
        raise BadInput(f"--{exc.bound.replace('_', '-')} {value}: {exc.why}") from None


def load_step(spec: str, who: str = "--step", base: str = "") -> Any:
    """The callable named ``MODULE:NAME`` (an importable module, or a file ``NAME.py``, taken
    relative to the folder ``base``), guarded (``_UserStep``); bad input if there is none, or if
    importing its module raises (even ``SystemExit``): the user's code, not ours. ``who`` names
    it in messages."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise BadInput(f"{who} {spec!r}: expected MODULE:NAME or FILE.py:NAME")
    try:
        if module.endswith(".py"):
            module = os.path.join(base, module)
            found = importlib.util.spec_from_file_location(
                os.path.basename(module)[:-3], module)
            if found is None or found.loader is None or not os.path.isfile(module):
                raise ImportError(f"no file {module}")
            loaded = importlib.util.module_from_spec(found)
            found.loader.exec_module(loaded)
        else:
            loaded = importlib.import_module(module)
        fn = getattr(loaded, name)
    except ModuleNotFoundError as exc:
        hint = ""
        if not module.endswith(".py") and exc.name == module.split(".")[0]:
            as_file = module.replace(".", os.sep) + ".py"
            hint = (f" (a file? name it {as_file}:{name}; a module must be importable: on "
                    f"PYTHONPATH)" if os.path.isfile(os.path.join(base, as_file)) else
                    " (a module must be importable: on PYTHONPATH; a file is FILE.py:NAME)")
        raise BadInput(f"{who} {spec!r}: {exc}{hint}") from None
    except (ImportError, AttributeError, SyntaxError) as exc:
        raise BadInput(f"{who} {spec!r}: {exc}") from None
    except (Exception, SystemExit) as exc:       # the module's own code failed at import
        raise BadInput(f"{who} {spec!r}: importing {module} raised "
                       f"{_exception(exc)}") from None
    if not callable(fn):
        raise BadInput(f"{who} {spec!r} is not callable")
    return _UserStep(fn, f"{who} {spec!r}")


def step_source(spec: str | None) -> str | None:
    """The file a ``--step`` names (its module's source), if it is one we can tell."""
    if not spec:
        return None
    module = spec.partition(":")[0]
    if module.endswith(".py"):
        return module
    try:
        found = importlib.util.find_spec(module) if module in sys.modules else None
    except (ImportError, ValueError):
        return None
    return found.origin if found is not None and found.has_location else None


def _exception(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _UserStep:
    """A user's step function: what it raises (even ``SystemExit``), or a return that is not
    ``(RaftState, list of effects)``, is bad input naming it, never a bug in raftsim."""

    def __init__(self, fn: Any, name: str) -> None:
        self.fn, self.name = fn, name

    def __call__(self, state: Any, event: Any) -> Any:
        try:
            out = self.fn(state, event)
        except (Exception, SystemExit) as exc:
            raise BadInput(f"{self.name} raised {_exception(exc)} on "
                           f"{type(event).__name__}") from None
        if (type(out) is not tuple or len(out) != 2 or not isinstance(out[0], raft.RaftState)
                or not isinstance(out[1], (list, tuple))
                or not all(isinstance(e, Effect) for e in out[1])):
            shown = repr(out)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise BadInput(f"{self.name} returned {shown} on {type(event).__name__}: "
                           f"expected (RaftState, list of effects)")
        return out


def build(config: dict[str, Any], origin: str | None = None
          ) -> tuple[Model, Bounds, list[Any], list[Any]]:
    """The model, bounds, properties and goals a configuration names (the same dict a
    counterexample file records). Bad input on anything unknown; ``origin``: the
    counterexample file the configuration was read from (messages name it, its fields, and a
    step file is found relative to its folder)."""
    if origin is not None:
        try:
            return _build(config, origin)
        except BadInput as exc:
            raise BadInput(f"{origin}: {exc}") from None
    return _build(config, None)


def _build(config: dict[str, Any], origin: str | None
           ) -> tuple[Model, Bounds, list[Any], list[Any]]:
    def option(name: str) -> str:
        return f"--{name}" if origin is None else name
    target = config["target"]
    if target not in TARGETS:
        raise BadInput(f"unknown target {target!r} (known: {', '.join(TARGETS)})")
    nodes, clients = config["nodes"], config["clients"]
    lo, hi = _MAX_NODES[target]
    per = " per group" if target == "shardkv" else ""
    if not lo <= nodes <= hi:
        raise BadInput(f"{option('nodes')} {nodes}: the {target} target takes {lo} to {hi} "
                       f"servers{per}")
    if target in _MAX_CLIENTS and not 1 <= clients <= _MAX_CLIENTS[target]:
        raise BadInput(f"{option('clients')} {clients}: the {target} target takes 1 to "
                       f"{_MAX_CLIENTS[target]} clients")
    shard_options = _shard_options(config, target, option)
    if config.get("step") and target != "raft":
        raise BadInput(f"{option('step')} names a step function for the raft target only")
    try:
        bounds = Bounds(**config["bounds"]).validate()
    except BoundsError as exc:
        raise BadInput(str(exc)) from None
    keep_sent = bool(config.get("keep_sent", False))
    if target == "raft":
        step = None
        if config.get("step") and origin is None:
            step = load_step(config["step"])
        elif config.get("step"):
            step = load_step(config["step"], "the counterexample's step function",
                             os.path.dirname(origin or ""))
        model = raft_model(nodes, step, keep_sent)
    else:
        model = TARGETS[target](nodes, clients, keep_sent=keep_sent, **shard_options)
    _check_start(model, bounds, origin)
    names = config.get("properties") or [p for p, ts in PROPERTIES.items() if target in ts]
    properties: list[Any] = []
    for name in names:
        if name not in PROPERTIES:
            hint = "; repeat --property for several" if "," in name else ""
            raise BadInput(f"unknown property {name!r} (known: {', '.join(PROPERTIES)}{hint})")
        if target not in PROPERTIES[name]:
            raise BadInput(f"property {name!r} does not apply to target {target!r}")
        if names.count(name) > 1:
            raise BadInput(f"property {name!r} is given more than once")
        properties.append(_PROPERTY_CHECKERS[name](model))
    if target == "shardkv":
        goals = shardkv_goals(model, bounds.crashes > 0, shard_options["changes"],
                              bounds.ops > 0)
    else:
        goals = list(raft_goals(bounds.snapshots, bounds.crashes > 0, bool(model.clients),
                                bounds.ops > 0))
    return model, bounds, properties, goals


def _check_start(model: Model, bounds: Bounds, origin: str | None) -> None:
    """Bad input if the start state (shardkv's settled store) is already beyond --max-log or
    --max-term: the search would expand an arbitrary fringe, not the states within them."""
    if model.raft_of is None:
        return
    rafts = [model.raft_of(node.state) for addr, node in
             zip(model.cluster.addrs, model.initial().cluster.nodes)
             if addr in model.servers and node.state is not None]
    if not rafts:
        return
    log = max(raft.last_index(r) for r in rafts)
    term = max(r.hard.term for r in rafts)
    for field, value, least, what in (("max_log", bounds.max_log, log, "a log of"),
                                      ("max_term", bounds.max_term, term, "a term of")):
        if value < least:
            flag = f"--{field.replace('_', '-')}" if origin is None else field
            raise BadInput(f"{flag} {value}: the settled {model.name} start already has "
                           f"{what} {least} (give {least} or more)")


def _shard_options(config: dict[str, Any], target: str, option: Callable[[str], str]
                   ) -> dict[str, int]:
    """The sharded store's groups, changes and shards (checked), or {} for other targets."""
    if target != "shardkv":
        for dest, _, _, _, _ in _SHARD_OPTIONS:
            if config.get(dest) is not None:
                raise BadInput(f"{option(dest)} applies to the shardkv target only (not "
                               f"{target})")
        return {}
    if config["bounds"].get("snapshots"):
        raise BadInput(f"{option('snapshots')} applies to the raft and kv targets only")
    out: dict[str, int] = {}
    for dest, _, default, lo, hi in _SHARD_OPTIONS:
        value = config.get(dest)
        top = len(config_changes(out.get("groups", 1))) - 1 if hi is None else hi
        value = min(default, top) if value is None else value
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= top:
            what = (f" with {_count(out['groups'], 'group')}" if dest == "changes" else "")
            span = f"only {lo}" if lo == top else f"{lo} to {top}"
            why = " (one group allows no configuration change)" if top == 0 else ""
            raise BadInput(f"{option(dest)} {value}: the shardkv target takes {span}{what}{why}")
        out[dest] = value
    return out


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if args.target is None:
        raise BadInput("explore needs a TARGET (or --replay FILE)")
    if args.strategy != "random":
        for flag, value in (("--seed", args.seed), ("--walks", args.walks)):
            if value is not None:
                raise BadInput(f"{flag} applies to --strategy random only (not {args.strategy})")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise BadInput(f"--seed {args.seed}: expected 0 to 2**63-1")
    if args.walks is not None and not 1 <= args.walks <= 10_000_000:
        raise BadInput(f"--walks {args.walks}: expected 1 to 10,000,000")
    if not math.isfinite(args.progress) or args.progress <= 0:
        raise BadInput(f"--progress {args.progress}: expected a positive number of seconds")
    if args.por and args.strategy != "bfs":
        raise BadInput(f"--por applies to --strategy bfs only (not {args.strategy})")
    if args.clients is not None and args.target not in _MAX_CLIENTS:
        raise BadInput(f"--clients applies to the kv and shardkv targets only (not "
                       f"{args.target})")
    bounds = _bounds(args)
    if bounds.dups and bounds.per_link < 2:
        raise BadInput(f"--dups {bounds.dups} needs --per-link 2 or more (a duplicate is a "
                       f"second copy of a message on its link; --per-link is {bounds.per_link})")
    clients = 1 if args.clients is None else args.clients
    nodes = _DEFAULT_NODES.get(args.target, 3) if args.nodes is None else args.nodes
    config = {"target": args.target, "nodes": nodes, "clients": clients,
              "step": args.step, "properties": args.property, "keep_sent": args.keep_sent,
              "bounds": {f: getattr(bounds, f) for f in bounds.__struct_fields__}}
    for dest, flag, default, _, _ in _SHARD_OPTIONS:
        value = getattr(args, dest)
        if args.target == "shardkv":
            config[dest] = value
        elif value is not None:
            raise BadInput(f"{flag} applies to the shardkv target only (not {args.target})")
    if args.target == "shardkv":       # the defaults, some of which depend on --groups
        config.update(_shard_options(config, args.target, lambda name: f"--{name}"))
    return config


def run(args: argparse.Namespace) -> int:
    if args.replay:
        given = [option for dest, option, default in _OPTIONS
                 if getattr(args, dest, default) != default]
        if given:
            raise BadInput(f"--replay takes no {', '.join(given)}: the counterexample file "
                           f"records the target, the bounds and the options (only --json "
                           f"applies)")
        return replay(args.replay, as_json=args.json)
    config = _config(args)
    model, bounds, properties, goals = build(config)
    if (args.symmetry or args.compare_symmetry) and model.permute is None:
        why = (" (group ids order the controller's rebalancing and configurations name the "
               "servers: renaming either changes behaviour)" if model.name == "shardkv" else "")
        raise BadInput(f"target {model.name} has no symmetry reduction{why}")
    check_outputs([("--trace", args.trace)], [("--step", step_source(args.step))])
    runs = [False, True] if args.compare_symmetry else [args.symmetry]
    results: list[Result] = []
    for symmetry in runs:
        if not args.json:
            print(_header(config, args.strategy, symmetry, args.por))
        progress = None if args.json else _print_progress
        try:
            results.append(explore(model, bounds, properties, goals, args.strategy, symmetry,
                                   args.seed or 0, args.walks or 1000, progress,
                                   args.progress, por=args.por))
        except Interrupted as stop:       # Ctrl-C: what was explored so far, then exit 130
            results.append(stop.result)
            if args.json:
                print(json.dumps({**_as_json(config, args.strategy, results, None, args.por),
                                  "interrupted": True}, sort_keys=True))
            else:
                _report(results, None, config, interrupted=True, por=args.por)
            raise

    result = results[-1]
    written = None
    unwritten: BadInput | None = None
    if result.violation is not None and args.trace:
        try:
            written = write_counterexample(args.trace, config, model, bounds, result.violation)
        except BadInput as exc:        # said after the steps, which are printed all the same
            unwritten = exc
    if args.json:
        print(json.dumps(_as_json(config, args.strategy, results, written, args.por),
                         sort_keys=True))
    else:
        _report(results, written, config, por=args.por)
        if args.trace and result.violation is None:
            print(f"no counterexample to write: {args.trace} left as it was")
    if unwritten is not None:
        raise unwritten
    return EXIT_FAIL if result.violation is not None else EXIT_OK


def _header(config: dict[str, Any], strategy: str, symmetry: bool, por: bool = False) -> str:
    b = config["bounds"]
    what = _count(config["nodes"], "server")
    if config["target"] == "shardkv":
        each = " each" if config["groups"] > 1 else ""
        what = (f"a controller of 1 server, {_count(config['groups'], 'group')} of "
                f"{what}{each}, {_count(config['shards'], 'shard')}, "
                f"{_count(config['changes'], 'configuration change')}")
    if config["target"] in _MAX_CLIENTS:
        what += ", " + _count(config["clients"], "client")
    if config.get("keep_sent"):
        what += ", sent messages outlive a crash"
    shown = ", ".join(f"{k.replace('_', '-')} {v:,}" if isinstance(v, int) and
                      not isinstance(v, bool) else f"{k.replace('_', '-')} {v}"
                      for k, v in b.items() if k != "overflow" or v != "stop")
    reduction = ", sleep sets on" if por else ""
    return (f"exploring {config['target']} ({what}) by {strategy}, symmetry "
            f"{'on' if symmetry else 'off'}{reduction}\nbounds: {shown}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _print_progress(p: Progress) -> None:
    rate = p.distinct / p.seconds if p.seconds > 0 else 0.0
    print(f"  {p.seconds:7.1f}s  {p.generated:,} generated, {p.distinct:,} distinct "
          f"({rate:,.0f}/s), depth {p.depth}, queue {p.queue:,}", flush=True)


def _budget_stopped(r: Result) -> bool:
    """True if the search stopped at the --states budget with states left to explore (random
    walks go on past it: they only stop counting)."""
    return "states" in r.bounds_hit and r.strategy != "random"


def _memory_stopped(r: Result) -> bool:
    """True if the search stopped at the memory limit (random walks only stop counting)."""
    return "memory" in r.bounds_hit and r.strategy != "random"


#: The bounds that, once hit, may keep a goal out of reach, and the option that raises each.
_RAISE = {"max-log": "--max-log", "max-term": "--max-term", "per-link": "--per-link",
          "depth": "--depth", "states": "--states"}


def _report(results: list[Result], written: str | None, config: dict[str, Any],
            interrupted: bool = False, por: bool = False) -> None:
    for r in results:
        rate = r.distinct / r.seconds if r.seconds > 0 else 0.0
        print(f"{r.generated:,} states generated, {r.distinct:,} distinct "
              f"(symmetry {'on' if r.symmetry else 'off'}), depth {r.depth}, "
              f"{r.seconds:.1f} s ({rate:,.0f} distinct/s)")
        if r.pruned or por:          # with --por, even "0 skipped" is news
            print(f"  {describe_reduction(r.pruned, r.generated)}")
    r = results[-1]
    cut = [x for x in results if _budget_stopped(x) or _memory_stopped(x)]
    if cut and r.violation is None and not interrupted and cut[0] is not r:
        # --compare-symmetry: the first run was cut short, so its count is a lower bound
        why = ", ".join(b for b in cut[0].bounds_hit if b in ("states", "memory"))
        print(f"the search without symmetry was cut short ({why}): its "
              f"{cut[0].distinct:,} distinct states are a lower bound")
    if r.goals:
        # a violation ends the search: goals are those of the steps judged up to it
        print("sometimes goals (so far):" if interrupted else "sometimes goals:"
              if r.violation is None else
              "sometimes goals (up to the violating step, which ended the search):")
        reached = "reached at depth" if r.strategy == "bfs" else "first seen at depth"
        for name, depth in r.goals.items():
            seen = f"{reached} {depth}" if depth is not None else "NOT reached"
            print(f"  {name}: {seen}")
    v = r.violation
    if interrupted:
        print("interrupted: no violation among the states explored so far")
        return
    if v is None:
        if r.complete:
            print("no violation: every state within the bounds was explored")
        elif _budget_stopped(r) or _memory_stopped(r):    # not "within the bounds"
            print(f"no violation among the {r.distinct:,} distinct states explored; bounds "
                  f"hit: {', '.join(r.bounds_hit)}")
        else:
            print(f"no violation within the bounds; bounds hit: {', '.join(r.bounds_hit)}")
        if r.strategy == "random" and {"states", "memory"} & set(r.bounds_hit):
            print("(random walks go on past --states and the memory limit: only the count of "
                  "distinct states stopped)")
        if _budget_stopped(r):
            print(f"stopped at the state budget (--states {config['bounds']['states']:,}): "
                  f"the search is incomplete")
        if _memory_stopped(r):
            print(f"stopped at the memory limit ({MEMORY_SHARE:.0%} of the memory the machine "
                  f"had free when the search started) before the state budget: the search is "
                  f"incomplete (lower the bounds or --states, or take --strategy random)")
        missed = [name for name, depth in r.goals.items() if depth is None]
        raising = [_RAISE[b] for b in r.bounds_hit if b in _RAISE]
        if missed and raising:
            print(f"goals not reached within these bounds: {', '.join(missed)} (raising "
                  f"{' or '.join(raising)} may reach them)")
        return
    print(f"VIOLATION {v.rule}: {v.detail}")
    kind = "shortest counterexample" if r.strategy == "bfs" else "counterexample"
    print(f"{kind} ({len(v.labels)} steps):")
    for n, label in enumerate(v.labels, 1):
        print(f"  {n:3}. {describe(label)}")
    if written:
        print(f"counterexample written to {written}; replay: raftsim replay {written}")


def _as_json(config: dict[str, Any], strategy: str, results: list[Result],
             written: str | None, por: bool = False) -> dict[str, Any]:
    r = results[-1]
    out: dict[str, Any] = {
        "config": config, "strategy": strategy, "por": por,
        "runs": [{"symmetry": x.symmetry, "generated": x.generated, "distinct": x.distinct,
                  "depth": x.depth, "seconds": round(x.seconds, 3), "pruned": x.pruned}
                 for x in results],
        "goals": r.goals, "bounds_hit": list(r.bounds_hit), "complete": r.complete,
        "stopped_at_state_budget": any(_budget_stopped(x) for x in results),
        "stopped_at_memory_limit": any(_memory_stopped(x) for x in results),
        "violation": None}
    if r.violation is not None:
        out["violation"] = {"rule": r.violation.rule, "detail": r.violation.detail,
                            "steps": [describe(label) for label in r.violation.labels],
                            "trace": written}
    return out


# ---------------------------------------------------------------- counterexample files

def _path_digest(model: Model, bounds: Bounds, choices: Sequence[int]) -> tuple[str, list[str]]:
    """Take the ``choices`` (positions among the enabled transitions) from the initial state;
    the digest of every state on the way and the readable steps. ValueError if one is not
    enabled."""
    h = hashlib.blake2b(digest_size=16)
    state = model.initial()
    ordered = bounds.overflow != "stop"        # the order within a link counts then
    h.update(encode_state(state, model.deep_encoding, ordered))
    steps: list[str] = []
    for k in choices:
        options = list(successors(model, state, bounds))
        if not 0 <= k < len(options):
            raise ValueError(f"step {len(steps) + 1}: transition {k} is not enabled")
        label, _, _, _, _, state = options[k]
        steps.append(describe(label))
        h.update(encode_state(state, model.deep_encoding, ordered))
    return h.hexdigest(), steps


def write_counterexample(path: str, config: dict[str, Any], model: Model, bounds: Bounds,
                         violation: Counterexample) -> str:
    """Write the path as the positions of its transitions (with readable steps and a digest
    over every state on the way)."""
    state = model.initial()
    choices = []
    for label in violation.labels:
        options = list(successors(model, state, bounds))
        k = next(i for i, o in enumerate(options) if o[0] == label)
        choices.append(k)
        state = options[k][5]
    digest, steps = _path_digest(model, bounds, choices)
    module, _, name = (config.get("step") or "").partition(":")
    if module.endswith(".py") and not os.path.isabs(module):
        # a step file is recorded relative to the counterexample (replay finds it from there)
        where = os.path.relpath(os.path.abspath(module), os.path.dirname(os.path.abspath(path)))
        config = {**config, "step": f"{where}:{name}"}
    rest = {"config": config, "rule": violation.rule, "detail": violation.detail,
            "choices": choices, "steps": steps, "digest": digest}
    # the format first (the rest in sorted order), so a reader knows the file by its head
    doc = {"format": FORMAT, **json.loads(json.dumps(rest, sort_keys=True))}
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    except OSError as exc:
        raise BadInput(f"--trace {path}: cannot write it ({exc.strerror or exc}); the "
                       f"counterexample's steps are printed above") from None
    return path


def is_counterexample(path: str) -> bool:
    """True if ``path`` is a counterexample written by the explorer."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096)
            if not head.lstrip().startswith("{"):
                return False
            if FORMAT in head:
                return True
            if head.lstrip().partition("\n")[0].strip() != "{":
                return False              # a one-line JSON object first (a trace's header)
            # an indented object whose "format" comes late (files written with sorted keys)
            tail = head[-64:]
            while chunk := f.read(1 << 20):
                if FORMAT in tail + chunk:
                    return True
                tail = chunk[-64:]
    except (OSError, ValueError):         # unreadable, or not UTF-8 text: not one of ours
        return False
    return False


class _Config(msgspec.Struct, forbid_unknown_fields=True):
    target: str
    nodes: int
    clients: int
    bounds: Bounds
    step: Optional[str] = None
    properties: Optional[list[str]] = None
    keep_sent: bool = False
    groups: Optional[int] = None
    changes: Optional[int] = None
    shards: Optional[int] = None


class _Counterexample(msgspec.Struct):
    format: str
    config: _Config
    choices: list[Annotated[int, msgspec.Meta(ge=0)]]
    digest: str


def read_counterexample(path: str) -> tuple[dict[str, Any], list[int], str]:
    """The counterexample written at ``path``, checked field by field: bad input (one line
    naming the file and what is wrong) for anything else."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        head = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise BadInput(f"{path} is not an explorer counterexample (not JSON)") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise BadInput(f"{path} is not an explorer counterexample (no \"format\": "
                       f"\"{FORMAT}\")")
    try:
        doc = msgspec.convert(head, _Counterexample)
    except msgspec.ValidationError as exc:
        raise BadInput(f"{path}: a damaged explorer counterexample ({exc})") from None
    config = msgspec.structs.asdict(doc.config)
    config["bounds"] = {f: getattr(doc.config.bounds, f)
                        for f in doc.config.bounds.__struct_fields__}
    return config, doc.choices, doc.digest


def retake(path: str) -> tuple[dict[str, Any], list[int], str, Model, Bounds, list[Any]]:
    """The counterexample at ``path`` and what its configuration names: (config, choices,
    digest, model, bounds, properties), its path taken again and its digest checked. Bad input
    (one line naming the file) when the file is damaged or its path no longer gives its digest
    (the code it was found on has changed): what ``raftsim report`` draws must be the path the
    file records."""
    config, choices, digest = read_counterexample(path)
    model, bounds, properties, _ = build(config, origin=path)
    try:
        got, _ = _path_digest(model, bounds, choices)
    except ValueError as exc:
        raise BadInput(f"{path}: a damaged explorer counterexample ({exc})") from None
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None
    if got != digest:
        raise BadInput(f"{path}: the path diverged (digest {got} != recorded {digest}): "
                       f"`raftsim replay {path}` says more")
    return config, choices, digest, model, bounds, properties


def replay(path: str, verbosity: int = 0, as_json: bool = False) -> int:
    """Take a written counterexample again: the same steps, the same digest, the same
    violation. Exit 1 when the violation reproduces (or the replay diverged: said so); a
    file whose path is not enabled is damaged (bad input). ``verbosity`` < 0: only the
    verdict; ``as_json``: one JSON object instead of text. A step function the file names is
    imported and run (a file's path is taken relative to the counterexample's folder)."""
    config, choices, digest = read_counterexample(path)
    model, bounds, properties, _ = build(config, origin=path)
    try:
        got, steps = _path_digest(model, bounds, choices)
        broken = _judge(model, bounds, properties, choices) if got == digest else None
    except ValueError as exc:
        raise BadInput(f"{path}: a damaged explorer counterexample ({exc})") from None
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None
    verdict = "diverged" if got != digest else "pass" if broken is None else "fail"
    if as_json:
        print(json.dumps({
            "file": path, "target": config["target"], "steps": steps, "verdict": verdict,
            "matches": got == digest, "digest": got, "recorded_digest": digest,
            "violation": None if broken is None else
            {"rule": broken.rule, "detail": broken.detail}}, sort_keys=True))
        return EXIT_OK if verdict == "pass" else EXIT_FAIL
    if verbosity >= 0:
        print(f"replaying an explorer counterexample of {config['target']} "
              f"({len(choices)} steps)")
    if got != digest:
        print(f"REPLAY DIVERGED: digest {got} != recorded {digest}")
        return EXIT_FAIL
    if verbosity >= 0:
        print(f"digest matches: {digest}")
        for n, line in enumerate(steps, 1):
            print(f"  {n:3}. {line}")
    if broken is None:
        print("outcome: PASS (the recorded violation did not happen again)")
        return EXIT_OK
    print(f"outcome: FAIL ({broken.rule}): {broken.detail}")
    return EXIT_FAIL


def _judge(model: Model, bounds: Bounds, properties: list[Any],
           choices: Sequence[int]) -> Violation | None:
    """The first violation of ``properties`` along the path, if any."""
    from sim.explore.model import Step, XState
    state = model.initial()
    state = XState(state.cluster, state.spent, state.cut,
                   tuple(p.start(state) for p in properties))
    for depth, k in enumerate(choices):
        label, _, addr, event, effects, after = list(successors(model, state, bounds))[k]
        step = Step(label, state, after, addr, event, effects, depth + 1)
        try:
            ghost = tuple(p.check(g, step) for p, g in zip(properties, state.ghost))
        except Violation as exc:
            return exc
        state = XState(after.cluster, after.spent, after.cut, ghost)
    return None

