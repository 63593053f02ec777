"""One test per rule of the KV server: who answers, when a reply may say OK, what happens to
waiting clients when leadership is lost, duplicate suppression across leader changes, and the
snapshot policy (taking, restoring, installing)."""

from __future__ import annotations

from msgspec.structs import replace
from protocols.fmap import FrozenMap

from protocols import kv, raft, rsm
from protocols.core import Apply, ApplySnapshot, Note, Persist, Receive, Send
from protocols.kv import clerk
from protocols.kv.machine import decode_snapshot, get_value
from protocols.kv.messages import (
    GET, PUT, OK, ErrWrongLeader, KVReply, KVRequest, Op,
)
from protocols.raft import AppendEntries, AppendEntriesReply, InstallSnapshot

from clusters import KVCluster

CUT2 = frozenset({"s2"})


def sends(effects):
    return [e for e in effects if type(e) is Send]


def replies(effects):
    return [e for e in sends(effects) if type(e.msg) is KVReply]


def ask(c, server, client, seq, op, key, value=""):
    """Play a client by hand: ``client`` sends a request straight to ``server``."""
    return c.step(server, Receive(client, KVRequest(client, seq, op, key, value)))


def answers(c, client):
    return [msg for _, dst, msg in c.outside if dst == client]


def log_commands(state):
    hard = state.raft.hard
    return [e.command for e in hard.log[1:]]


def test_non_leader_answers_wrong_leader_at_once():
    """A server that is not leader refuses at once with ErrWrongLeader and proposes nothing."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    effects = ask(c, "s1", "x", 1, PUT, "k", "v")
    assert sends(effects) == [Send("x", KVReply(1, ErrWrongLeader))]
    assert raft.last_index(c.server(1).raft) == 0


def test_leader_replies_only_after_commit():
    """The leader proposes the Op and answers OK only once the entry is applied."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    effects = ask(c, "s0", "x", 1, PUT, "k", "v")
    assert replies(effects) == []
    assert log_commands(c.server(0)) == [Op("x", 1, PUT, "k", "v")]
    assert c.server(0).pending[1] == rsm.Pending("x", "x", 1, 1)
    c.deliver_all()
    assert answers(c, "x") == [KVReply(1, OK, "")]
    assert not c.server(0).pending


def test_get_goes_through_the_log():
    """A Get is proposed like a write and answered with the value at its apply."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    ask(c, "s0", "x", 1, PUT, "k", "v")
    c.deliver_all()
    effects = ask(c, "s0", "x", 2, GET, "k")
    assert replies(effects) == []
    assert log_commands(c.server(0))[-1] == Op("x", 2, GET, "k", "")
    c.deliver_all()
    assert answers(c, "x")[-1] == KVReply(2, OK, "v")


def test_deposed_leader_never_answers_from_stale_state():
    """An isolated old leader still believes it leads, but a Get it accepts never commits, so
    it never returns the stale value; when it learns of the new term it refuses."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    ask(c, "s0", "x", 1, PUT, "k", "old")
    c.deliver_all()
    isolated = frozenset({"s0"})
    c.elect(1, cut=isolated)
    ask(c, "s1", "y", 1, PUT, "k", "new")
    c.deliver_all(cut=isolated)
    assert kv.is_leader(c.server(0)) and get_value(c.server(0).machine, "k") == "old"
    ask(c, "s0", "z", 1, GET, "k")
    c.deliver_all(cut=isolated)
    assert answers(c, "z") == []
    c.heartbeat(1)                               # heal: s0 hears of term 2
    assert answers(c, "z") == [KVReply(1, ErrWrongLeader)]


def test_step_down_fails_every_pending_request():
    """On losing leadership every waiting client gets ErrWrongLeader (in index order) and
    nothing is left pending."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    ask(c, "s0", "x", 1, PUT, "a", "1")
    ask(c, "s0", "y", 1, PUT, "b", "2")
    c.drop_all()
    effects = c.step("s0", Receive("s1", AppendEntriesReply(5, 1, False, 0)))
    assert [(e.dst, e.msg) for e in replies(effects)] == [
        ("x", KVReply(1, ErrWrongLeader)), ("y", KVReply(1, ErrWrongLeader))]
    assert not c.server(0).pending


def test_reply_requires_same_entry_in_same_term():
    """A reply owed at an index says OK only if the entry applied there carries the same
    (client, seq) and the term recorded at proposal; anything else is ErrWrongLeader."""
    c = KVCluster(3, clerks=0)
    c.elect(1)
    owed = FrozenMap({1: rsm.Pending("x", "x", 1, 1), 2: rsm.Pending("y", "y", 1, 7)})
    c.put_state("s0", replace(c.server(0), pending=owed))  # as if s0 had proposed these
    ask(c, "s1", "z", 1, PUT, "k", "z")                    # another client's entry at index 1
    ask(c, "s1", "y", 1, PUT, "k", "y")                    # same (client, seq), other term
    c.deliver_all()
    c.heartbeat(1)                                         # s0 learns the commit index
    from_s0 = [(dst, msg) for src, dst, msg in c.outside if src == "s0"]
    assert from_s0 == [("x", KVReply(1, ErrWrongLeader)), ("y", KVReply(1, ErrWrongLeader))]
    assert ("s1", "y", KVReply(1, OK, "")) in c.outside


def test_retried_append_applied_once_across_leader_change():
    """An Append replicated by a leader that crashed before answering is retried by the clerk
    at the next leader; both copies commit but the value changes once."""
    c = KVCluster(3, clerks=1)
    c.elect(0)
    c.request("c0", clerk.append("k", "a"))
    c.deliver(0)                                   # s0 proposes; AppendEntries to s1, s2
    assert all(type(m) is AppendEntries for _, _, m in c.inflight)
    c.deliver(0)
    c.deliver(0)                                   # both followers store the entry
    c.crash("s0")                                  # ... and their acks die with s0
    c.elect(1)
    c.fire("c0", clerk.RETRY)                      # the clerk moves on to s1, the new leader
    c.deliver_all()
    assert c.result("c0") == "" and len(c.done["c0"]) == 1
    assert [cmd.seq for cmd in log_commands(c.server(1))] == [1, 1]
    assert get_value(c.server(1).machine, "k") == "a"
    c.request("c0", clerk.get("k"))
    c.settle()
    assert c.result("c0") == "a"


def test_leader_persists_before_it_replicates():
    """In the step that accepts a request, Raft's Persist of the new entry precedes every
    AppendEntries that carries it."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    effects = ask(c, "s0", "x", 1, PUT, "k", "v")
    kinds = [type(e) for e in effects]
    assert kinds.index(Persist) < kinds.index(Send)
    assert effects[kinds.index(Persist)].state.log[-1].command == Op("x", 1, PUT, "k", "v")


def test_restart_forgets_pending_without_answering():
    """A crash loses every waiting client (its connection died too): the rebooted server
    sends no reply and owes none."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    ask(c, "s0", "x", 1, PUT, "k", "v")
    c.drop_all()
    effects = c.restart("s0")
    assert replies(effects) == [] and not c.server(0).pending


def test_malformed_and_misrouted_input_ignored():
    """An unknown operation or a KVReply sent to a server is ignored with a Note."""
    c = KVCluster(3, clerks=0)
    c.elect(0)
    before = c.server(0)
    effects = ask(c, "s0", "x", 1, "cas", "k", "v")
    assert c.server(0) is before and type(effects[0]) is Note and not sends(effects)
    effects = c.step("s0", Receive("x", KVReply(1, OK, "")))
    assert c.server(0) is before and type(effects[0]) is Note


def put_many(c, n, leader=0, cut=frozenset(), start=1, client="x"):
    for seq in range(start, start + n):
        ask(c, f"s{leader}", client, seq, PUT, f"k{seq % 7}", "v" * 20 + str(seq))
        c.deliver_all(cut=cut)
        c.heartbeat(leader, cut=cut)


def test_no_snapshot_when_maxraftstate_is_negative():
    """With maxraftstate -1 the log is never compacted and no snapshot is ever written."""
    c = KVCluster(3, clerks=0, maxraftstate=-1)
    c.elect(0)
    put_many(c, 40)
    for addr in c.servers:
        assert c.node(addr).durable.snapshot is None
        assert c.node(addr).state.raft.hard.log_start == 0


def test_snapshot_bounds_the_persisted_state():
    """Once the persisted Raft state reaches maxraftstate every server snapshots its machine
    at the last applied index, keeping the state below the lab's 8 x maxraftstate."""
    c = KVCluster(3, clerks=0, maxraftstate=400)
    c.elect(0)
    put_many(c, 60)
    for addr in c.servers:
        state = c.node(addr).state
        assert state.raft.hard.log_start > 0
        assert raft.persisted_size(state.raft) <= 8 * 400
        snap = decode_snapshot(c.node(addr).durable.snapshot)
        assert snap.sessions["x"] == state.raft.hard.log_start


def test_snapshot_persist_follows_the_applies_it_covers():
    """The snapshot is taken in the step that applied the entries, by a Persist carrying it
    after those Applies (Raft's own Persist of the step, if any, still comes first)."""
    c = KVCluster(3, clerks=0, maxraftstate=200, record=True)
    c.elect(0)
    put_many(c, 12)
    snapshot_steps = [(addr, effects) for addr, _, effects in c.history
                      if any(type(e) is Persist and e.snapshot for e in effects)]
    assert {addr for addr, _ in snapshot_steps} == set(c.servers)
    for addr, effects in snapshot_steps:
        kinds = [type(e) for e in effects]
        snap_at = next(i for i, e in enumerate(effects) if type(e) is Persist and e.snapshot)
        last_apply = max(i for i, k in enumerate(kinds) if k is Apply)
        raft_persists = [i for i, e in enumerate(effects) if type(e) is Persist and i != snap_at]
        assert all(i < last_apply for i in raft_persists) and last_apply < snap_at
        assert snap_at == len(effects) - 1
        applied = [e.index for e in effects if type(e) is Apply]
        assert decode_snapshot(effects[snap_at].snapshot).sessions["x"] == applied[-1]


def test_restart_restores_machine_from_snapshot():
    """After a crash of every server, each rebuilds its machine from its snapshot and then
    from the committed log suffix; no write is lost or applied twice."""
    c = KVCluster(3, clerks=1, maxraftstate=300)
    c.elect(0)
    for i in range(30):
        c.request("c0", clerk.append("k", f"{i},"))
        c.settle()
    before = c.server(0).machine
    for addr in c.servers:
        c.crash(addr)
    effects = c.restart("s0")
    restored = c.server(0).machine
    assert restored == decode_snapshot(c.node("s0").durable.snapshot) and restored.data
    assert c.server(0).applied == c.server(0).raft.hard.log_start > 0
    c.request("c0", clerk.get("k"))
    c.settle()
    assert c.result("c0") == "".join(f"{i}," for i in range(30))
    assert get_value(before, "k") == c.result("c0")
    assert any(type(e) is ApplySnapshot for e in effects)


def test_dedup_table_survives_snapshot_and_restart():
    """The snapshot carries the duplicate table: an Append applied and compacted away, whose
    reply was lost, is not applied again when the clerk retries after every server rebooted."""
    c = KVCluster(3, clerks=1, maxraftstate=1)       # snapshot after every applied batch
    c.elect(0)
    c.request("c0", clerk.append("k", "a"))
    c.deliver(0)
    c.deliver_all(cut=frozenset({"c0"}))            # committed and applied; the reply is lost
    c.heartbeat(0)                                   # the followers apply and compact too
    assert all(c.node(a).state.raft.hard.log_start == 1 for a in c.servers)
    for addr in c.servers:
        c.restart(addr)
    assert all(get_value(c.node(a).state.machine, "k") == "a" for a in c.servers)
    c.settle()                                       # the clerk retries the same seq
    c.request("c0", clerk.get("k"))
    c.settle()
    assert c.result("c0") == "a"


def test_install_snapshot_restores_a_lagging_follower():
    """A follower cut off while the others compacted their logs receives InstallSnapshot and
    ends with the same machine as the leader."""
    c = KVCluster(3, clerks=0, maxraftstate=300, record=True)
    c.elect(0, cut=CUT2)
    put_many(c, 40, cut=CUT2)
    assert c.server(0).raft.hard.log_start > 1 and c.server(2).applied == 0
    c.heartbeat(0)
    c.heartbeat(0)
    installs = [e for addr, e, _ in c.history
                if addr == "s2" and type(getattr(e, "msg", None)) is InstallSnapshot]
    assert installs
    assert c.server(2).raft.hard.log_start > 0
    assert c.server(2).machine == c.server(0).machine
    assert c.server(2).applied == c.server(0).applied


def test_snapshot_size_stays_small_under_overwrites():
    """The lab's TestSnapshotSize: 200 x (Put x=0, Put x=1) through a clerk with maxraftstate
    1000 keeps every persisted Raft state <= 8000 bytes and every snapshot <= 500 bytes."""
    c = KVCluster(3, clerks=1, maxraftstate=1000)
    c.elect(0)
    worst_state = worst_snap = 0
    for i in range(200):
        for value in "01":
            c.request("c0", clerk.put("x", value))
            c.deliver_all()
            assert not c.busy()
        for addr in c.servers:
            worst_state = max(worst_state, raft.persisted_size(c.node(addr).state.raft))
            worst_snap = max(worst_snap, len(c.node(addr).durable.snapshot or b""))
    assert worst_state <= 8000 and 0 < worst_snap <= 500
    c.request("c0", clerk.get("x"))
    c.deliver_all()
    assert c.result("c0") == "1"


def test_batched_applies_run_exactly_as_one_by_one():
    """A follower that learns of several commits at once applies them in one call
    (``Service.apply_all``); a whole lab run (partitions, crashes, snapshots, unreliable
    network) is the same, digest for digest, when every entry is applied on its own."""
    from scenarios.runner import run_scenario
    name, service = "SnapshotUnreliableRecoverConcurrentPartition4B", kv.server.SERVICE
    batch_all, sizes = service.apply_all, []

    def counted(machine, ops):
        sizes.append(len(ops))
        return batch_all(machine, ops)
    try:
        object.__setattr__(service, "apply_all", counted)
        batched = run_scenario(name, 1)
        object.__setattr__(service, "apply_all", None)
        one_by_one = run_scenario(name, 1)
    finally:
        object.__setattr__(service, "apply_all", batch_all)
    assert max(sizes) > 1 and batched.outcome == "pass"
    assert (batched.digest, batched.messages) == (one_by_one.digest, one_by_one.messages)
