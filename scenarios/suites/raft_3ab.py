"""The 6.5840 Raft tests of 3A (elections) and 3B (log), ported to virtual time with their
assertions and limits (3C is in raft_3c.py, 3D in raft_3d.py). Each is a SimPy generator over a
``RaftCluster``; randomness (which server, which command, how long to sleep) comes from the
run's ``workload`` and ``faults`` streams.
"""

from __future__ import annotations

from scenarios.harness.raft import ELECTION_TIMEOUT, RaftCluster
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail

ET = ELECTION_TIMEOUT


# ---------------------------------------------------------------- 3A: leader election

@scenario("InitialElection3A", "3A", "initial election: one leader, terms agree and stay put")
def initial_election(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.check_one_leader()
    yield ctx.sleep(50)
    term1 = c.check_terms()
    if term1 < 1:
        fail(f"term is {term1}, but should be at least 1")
    yield ctx.sleep(2 * ET)
    term2 = c.check_terms()
    if term1 != term2:
        ctx.facts["warning"] = "term changed even though there were no failures"
    yield from c.check_one_leader()
    c.end()


@scenario("ReElection3A", "3A", "election after network failure")
def re_election(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    leader1 = yield from c.check_one_leader()
    c.disconnect(leader1)                       # a new leader takes over
    yield from c.check_one_leader()
    c.connect(leader1)                          # the old leader rejoining must not disturb
    leader2 = yield from c.check_one_leader()
    c.disconnect(leader2)                       # no quorum: no leader
    c.disconnect((leader2 + 1) % 3)
    yield ctx.sleep(2 * ET)
    c.check_no_leader()
    c.connect((leader2 + 1) % 3)                # quorum again
    yield from c.check_one_leader()
    c.connect(leader2)
    yield from c.check_one_leader()
    c.end()


@scenario("ManyElections3A", "3A", "multiple elections with 3 of 7 servers disconnected")
def many_elections(ctx: RunContext) -> Gen:
    n = 7
    c = RaftCluster(ctx, n)
    yield from c.check_one_leader()
    for _ in range(1, 10):
        picks = [c.fault_rng.randrange(n) for _ in range(3)]
        for i in picks:
            c.disconnect(i)
        yield from c.check_one_leader()     # a majority (>= 4 of 7) is still connected
        for i in picks:
            c.connect(i)
    yield from c.check_one_leader()
    c.end()


# ---------------------------------------------------------------- 3B: log

@scenario("BasicAgree3B", "3B", "basic agreement")
def basic_agree(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    for index in range(1, 4):
        count, _ = c.n_committed(index)
        if count > 0:
            fail("some have committed before Start()")
        got = yield from c.one(index * 100, 3, False)
        if got != index:
            fail(f"got index {got} but expected {index}")
    c.end()


@scenario("RPCBytes3B", "3B", "RPC byte count: each command is sent to each peer once")
def rpc_bytes(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.one(99, 3, False)
    bytes0 = c.bytes_total()
    sent = 0
    for index in range(2, 12):
        cmd = "".join(chr(97 + c.rng.randrange(26)) for _ in range(5000))
        got = yield from c.one(cmd, 3, False)
        if got != index:
            fail(f"got index {got} but expected {index}")
        sent += len(cmd)
    used = c.bytes_total() - bytes0
    expected = 3 * sent
    ctx.facts["rpc_bytes"] = used
    if used > expected + 50_000:
        fail(f"too many RPC bytes; got {used}, expected {expected}")
    c.end()


@scenario("FollowerFailure3B", "3B", "test progressive failure of followers")
def follower_failure(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.one(101, 3, False)
    leader1 = yield from c.check_one_leader()
    c.disconnect((leader1 + 1) % 3)
    yield from c.one(102, 2, False)             # the leader and the other follower agree
    yield ctx.sleep(ET)
    yield from c.one(103, 2, False)
    leader2 = yield from c.check_one_leader()
    c.disconnect((leader2 + 1) % 3)
    c.disconnect((leader2 + 2) % 3)
    index, _, ok = c.start(leader2, 104)
    if not ok:
        fail("leader rejected Start()")
    if index != 4:
        fail(f"expected index 4, got {index}")
    yield ctx.sleep(2 * ET)
    count, _ = c.n_committed(index)
    if count > 0:
        fail(f"{count} committed but no majority")
    c.end()


@scenario("LeaderFailure3B", "3B", "test failure of leaders")
def leader_failure(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.one(101, 3, False)
    leader1 = yield from c.check_one_leader()
    c.disconnect(leader1)
    yield from c.one(102, 2, False)
    yield ctx.sleep(ET)
    yield from c.one(103, 2, False)
    leader2 = yield from c.check_one_leader()
    c.disconnect(leader2)
    for i in range(3):
        c.start(i, 104)
    yield ctx.sleep(2 * ET)
    count, _ = c.n_committed(4)
    if count > 0:
        fail(f"{count} committed but no majority")
    c.end()


@scenario("FailAgree3B", "3B", "agreement after follower reconnects")
def fail_agree(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.one(101, 3, False)
    leader = yield from c.check_one_leader()
    c.disconnect((leader + 1) % 3)
    yield from c.one(102, 2, False)
    yield from c.one(103, 2, False)
    yield ctx.sleep(ET)
    yield from c.one(104, 2, False)
    yield from c.one(105, 2, False)
    c.connect((leader + 1) % 3)
    yield from c.one(106, 3, True)
    yield ctx.sleep(ET)
    yield from c.one(107, 3, True)
    c.end()


@scenario("FailNoAgree3B", "3B", "no agreement if too many followers disconnect")
def fail_no_agree(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n)
    yield from c.one(10, n, False)
    leader = yield from c.check_one_leader()
    for k in (1, 2, 3):
        c.disconnect((leader + k) % n)
    index, _, ok = c.start(leader, 20)
    if not ok:
        fail("leader rejected Start()")
    if index != 2:
        fail(f"expected index 2, got {index}")
    yield ctx.sleep(2 * ET)
    count, _ = c.n_committed(index)
    if count > 0:
        fail(f"{count} committed but no majority")
    for k in (1, 2, 3):
        c.connect((leader + k) % n)
    leader2 = yield from c.check_one_leader()
    index2, _, ok2 = c.start(leader2, 30)
    if not ok2:
        fail("leader2 rejected Start()")
    if not 2 <= index2 <= 3:
        fail(f"unexpected index {index2}")
    yield from c.one(1000, n, True)
    c.end()


@scenario("ConcurrentStarts3B", "3B", "concurrent Start()s")
def concurrent_starts(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    for attempt in range(5):
        if attempt > 0:
            yield ctx.sleep(3000)               # give the cluster time to settle
        leader = yield from c.check_one_leader()
        _, term, ok = c.start(leader, 1)
        if not ok:
            continue
        indexes = []
        for i in range(5):                      # five concurrent Starts at the same instant
            index, term1, ok1 = c.start(leader, 100 + i)
            if term1 == term and ok1:
                indexes.append(index)
        if any(c.get_state(j)[0] != term for j in range(3)):
            continue                            # the term changed: try again
        cmds = []
        for index in indexes:
            cmd = yield from c.wait(index, 3, term)
            if cmd == -1:
                break
            cmds.append(cmd)
        else:
            for i in range(5):
                if 100 + i not in cmds:
                    fail(f"cmd {100 + i} missing in {cmds}")
            c.end()
            return
    fail("term changed too often")


@scenario("Rejoin3B", "3B", "rejoin of partitioned leader")
def rejoin(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.one(101, 3, True)
    leader1 = yield from c.check_one_leader()
    c.disconnect(leader1)                       # the leader goes away with entries of its own
    for cmd in (102, 103, 104):
        c.start(leader1, cmd)
    yield from c.one(103, 2, True)              # new leader commits, also for index 2
    leader2 = yield from c.check_one_leader()
    c.disconnect(leader2)
    c.connect(leader1)                          # the old leader connects again
    yield from c.one(104, 2, True)
    c.connect(leader2)
    yield from c.one(105, 3, True)
    c.end()


@scenario("Backup3B", "3B", "leader backs up quickly over incorrect follower logs")
def backup(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n)
    yield from c.one(c.random_command(), n, True)
    leader1 = yield from c.check_one_leader()
    for k in (2, 3, 4):                         # the leader and one follower in a partition
        c.disconnect((leader1 + k) % n)
    for _ in range(50):                         # lots of commands that won't commit
        c.start(leader1, c.random_command())
    yield ctx.sleep(ET / 2)
    c.disconnect(leader1 % n)
    c.disconnect((leader1 + 1) % n)
    for k in (2, 3, 4):                         # the other partition takes over
        c.connect((leader1 + k) % n)
    for _ in range(50):
        yield from c.one(c.random_command(), 3, True)
    leader2 = yield from c.check_one_leader()
    other = (leader1 + 2) % n
    if leader2 == other:
        other = (leader2 + 1) % n
    c.disconnect(other)
    for _ in range(50):                         # more commands that won't commit
        c.start(leader2, c.random_command())
    yield ctx.sleep(ET / 2)
    for i in range(n):                          # bring the original leader back
        c.disconnect(i)
    c.connect(leader1 % n)
    c.connect((leader1 + 1) % n)
    c.connect(other)
    for _ in range(50):
        yield from c.one(c.random_command(), 3, True)
    for i in range(n):
        c.connect(i)
    yield from c.one(c.random_command(), n, True)
    c.end()


@scenario("Count3B", "3B", "RPC counts aren't too high")
def count(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n)
    leader = yield from c.check_one_leader()
    total1 = c.rpc_total()
    ctx.facts["election_rpcs"] = total1
    if total1 > 30 or total1 < 1:
        fail(f"too many or few RPCs ({total1}) to elect initial leader")
    total2 = 0
    success = False
    for attempt in range(5):
        if attempt > 0:
            yield ctx.sleep(3000)
        leader = yield from c.check_one_leader()
        total1 = c.rpc_total()
        iters = 10
        starti, term, ok = c.start(leader, 1)
        if not ok:
            continue
        cmds = []
        retry = False
        for i in range(1, iters + 2):
            x = c.rng.randrange(1 << 31)
            cmds.append(x)
            index1, term1, ok1 = c.start(leader, x)
            if term1 != term or not ok1:
                retry = True
                break
            if starti + i != index1:
                fail("Start() failed")
        if retry:
            continue
        for i in range(1, iters + 1):
            cmd = yield from c.wait(starti + i, n, term)
            if cmd != cmds[i - 1]:
                if cmd == -1:
                    retry = True
                    break
                fail(f"wrong value {cmd} committed for index {starti + i}; "
                      f"expected {cmds[i - 1]}")
        if retry:
            continue
        if any(c.get_state(j)[0] != term for j in range(n)):
            continue
        total2 = c.rpc_total()
        ctx.facts["agreement_rpcs"] = total2 - total1
        if total2 - total1 > (iters + 1 + 3) * 3:
            fail(f"too many RPCs ({total2 - total1}) for {iters} entries")
        success = True
        break
    if not success:
        fail("term changed too often")
    yield ctx.sleep(ET)
    total3 = c.rpc_total()
    ctx.facts["idle_rpcs"] = total3 - total2
    if total3 - total2 > 3 * 20:
        fail(f"too many RPCs ({total3 - total2}) for 1 second of idleness")
    c.end()
