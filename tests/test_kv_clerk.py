"""One test per rule of the clerk: numbering, where it sends, when it retries and moves on,
which replies it believes, and what it tells the application."""

from __future__ import annotations

import pytest

from protocols.core import (
    Durable,
    CancelTimer, ClientDone, ClientRequest, Note, Persist, Receive, Restart, Send, SetTimer,
    TimerFired,
)
from protocols.kv import clerk
from protocols.kv.clerk import RETRY, ClerkBusy, ClerkConfig
from protocols.kv.messages import OK, ErrNoKey, ErrWrongLeader, KVReply, KVRequest

from clusters import KVCluster

SERVERS = ("s0", "s1", "s2")


def fresh():
    return clerk.init(ClerkConfig("c0", SERVERS))


def run(state, *events):
    effects = []
    for event in events:
        state, effects = clerk.step(state, event)
    return state, effects


def sent(effects):
    return [(e.dst, e.msg) for e in effects if type(e) is Send]


def reply(src, seq, err=OK, value=""):
    return Receive(src, KVReply(seq, err, value))


def test_request_goes_to_first_server_with_a_new_seq_and_a_timer():
    """An operation gets the next seq, goes to the cached leader (initially the first server)
    and arms the retry timer."""
    state, effects = run(fresh(), ClientRequest(clerk.put("k", "v")))
    assert sent(effects) == [("s0", KVRequest("c0", 1, "put", "k", "v"))]
    assert SetTimer(RETRY, 100.0, 100.0) in effects
    state, _ = run(state, reply("s0", 1))
    _, effects = run(state, ClientRequest(clerk.get("k")))
    assert sent(effects) == [("s0", KVRequest("c0", 2, "get", "k", ""))]


def test_ok_completes_and_cancels_the_timer():
    """OK for the current seq ends the operation: ClientDone with the Get's value ("" for a
    write) and the retry timer cancelled."""
    state, _ = run(fresh(), ClientRequest(clerk.get("k")))
    state, effects = run(state, reply("s0", 1, OK, "v"))
    assert effects == [CancelTimer(RETRY), ClientDone(clerk.get("k"), "v")]
    assert clerk.is_idle(state)
    state, _ = run(state, ClientRequest(clerk.append("k", "w")))
    _, effects = run(state, reply("s0", 2, OK, "ignored"))
    assert ClientDone(clerk.append("k", "w"), "") in effects


def test_err_no_key_is_an_empty_read():
    """ErrNoKey (servers of other services may send it) completes a Get with ""."""
    state, _ = run(fresh(), ClientRequest(clerk.get("k")))
    _, effects = run(state, reply("s0", 1, ErrNoKey))
    assert ClientDone(clerk.get("k"), "") in effects


def test_wrong_leader_moves_to_next_server_at_once():
    """ErrWrongLeader from the server asked: the same request (same seq) goes to the next
    server immediately, with the timer re-armed."""
    state, _ = run(fresh(), ClientRequest(clerk.put("k", "v")))
    state, effects = run(state, reply("s0", 1, ErrWrongLeader))
    assert sent(effects) == [("s1", KVRequest("c0", 1, "put", "k", "v"))]
    assert any(type(e) is SetTimer for e in effects)


def test_full_round_of_refusals_waits_for_the_timer():
    """After every server refused (an election in progress) the clerk stops spinning and
    waits for its retry timer, then starts a new round."""
    state, _ = run(fresh(), ClientRequest(clerk.put("k", "v")))
    state, _ = run(state, reply("s0", 1, ErrWrongLeader), reply("s1", 1, ErrWrongLeader))
    state, effects = run(state, reply("s2", 1, ErrWrongLeader))
    assert sent(effects) == [] and type(effects[0]) is Note
    state, effects = run(state, TimerFired(RETRY))
    assert sent(effects) == [("s0", KVRequest("c0", 1, "put", "k", "v"))]
    _, effects = run(state, reply("s0", 1, ErrWrongLeader))
    assert sent(effects)[0][0] == "s1"


def test_retry_timer_tries_next_server_with_same_seq():
    """No answer before the timer: the same seq goes to the next server, timer re-armed;
    the rotation wraps around."""
    state, _ = run(fresh(), ClientRequest(clerk.append("k", "v")))
    targets = []
    for _ in range(4):
        state, effects = run(state, TimerFired(RETRY))
        targets += [(dst, msg.seq) for dst, msg in sent(effects)]
        assert SetTimer(RETRY, 100.0, 100.0) in effects
    assert targets == [("s1", 1), ("s2", 1), ("s0", 1), ("s1", 1)]


def test_leader_is_cached_from_the_last_ok():
    """The server that answered OK is asked first for the next operation."""
    state, _ = run(fresh(), ClientRequest(clerk.put("k", "v")),
                   reply("s0", 1, ErrWrongLeader), reply("s1", 1, ErrWrongLeader),
                   reply("s2", 1, OK))
    _, effects = run(state, ClientRequest(clerk.get("k")))
    assert sent(effects) == [("s2", KVRequest("c0", 2, "get", "k", ""))]


def test_late_ok_from_an_earlier_server_completes():
    """An OK for the current seq counts whoever sends it (the operation was applied); that
    server becomes the cached leader."""
    state, _ = run(fresh(), ClientRequest(clerk.put("k", "v")), TimerFired(RETRY))
    state, effects = run(state, reply("s0", 1, OK))
    assert ClientDone(clerk.put("k", "v"), "") in effects
    _, effects = run(state, ClientRequest(clerk.get("k")))
    assert sent(effects)[0][0] == "s0"


def test_stale_replies_are_ignored():
    """Replies for another seq, replies while idle, and a late refusal from a server asked
    earlier change nothing."""
    state, _ = run(fresh(), ClientRequest(clerk.put("k", "v")), reply("s0", 1))
    idle = state
    state, effects = run(state, reply("s1", 1, OK, "late"))
    assert state == idle and type(effects[0]) is Note
    state, _ = run(state, ClientRequest(clerk.put("k", "w")), TimerFired(RETRY))  # now at s1
    busy = state
    for event in (reply("s0", 1, OK), reply("s1", 3, OK), reply("s0", 2, ErrWrongLeader),
                  Receive("s1", "garbage")):
        state, effects = run(state, event)
        assert state == busy and sent(effects) == [] and type(effects[0]) is Note


def test_request_while_busy_is_a_driver_bug():
    """One outstanding operation at a time: a second ClientRequest raises ClerkBusy."""
    state, _ = run(fresh(), ClientRequest(clerk.get("k")))
    with pytest.raises(ClerkBusy):
        clerk.step(state, ClientRequest(clerk.get("j")))


def test_restart_renames_the_session():
    """A rebooted clerk starts over at seq 1 under a new client id, persisted boot count, so
    the servers' duplicate table of its previous life cannot swallow its new writes."""
    state, effects = run(fresh(), Restart(None))
    assert effects == [Persist(1)] and state.client_id == "c0"
    state, _ = run(state, ClientRequest(clerk.put("k", "v")))
    state, effects = run(state, Restart(Durable(1)))
    assert effects == [Persist(2)] and state.client_id == "c0#2" and clerk.is_idle(state)
    _, effects = run(state, ClientRequest(clerk.put("k", "w")))
    assert sent(effects) == [("s0", KVRequest("c0#2", 1, "put", "k", "w"))]


def test_rebooted_clerk_writes_are_not_deduplicated():
    """End to end: seq 1 of a rebooted clerk is a new operation for the servers."""
    c = KVCluster(3, clerks=1)
    c.elect(0)
    c.request("c0", clerk.append("k", "a"))
    c.deliver_all()
    c.restart("c0")
    c.request("c0", clerk.append("k", "b"))
    c.deliver_all()
    c.request("c0", clerk.get("k"))
    c.deliver_all()
    assert c.result("c0") == "ab"


def test_clerk_finds_the_new_leader_after_a_failover():
    """Through a real cluster: the cached leader crashes, the clerk times out, is refused by a
    follower, reaches the new leader and then keeps asking it first."""
    c = KVCluster(3, clerks=1, record=True)
    c.elect(0)
    c.request("c0", clerk.put("k", "1"))
    c.deliver_all()
    c.crash("s0")
    c.elect(2)
    c.request("c0", clerk.put("k", "2"))          # to s0: lost
    c.fire("c0", RETRY)                           # to s1: refused, then s2 at once
    c.deliver_all()
    assert c.result("c0") == "" and len(c.done["c0"]) == 2
    mark = len(c.history)
    c.request("c0", clerk.get("k"))
    c.deliver_all()
    assert c.result("c0") == "2"
    first_send = next(e for addr, _, effects in c.history[mark:] if addr == "c0"
                      for e in effects if type(e) is Send)
    assert first_send.dst == "s2"
