"""The 6.5840 Raft tests (2024 names, 3A-3D), ported to virtual time with their assertions and
limits. Each is a SimPy generator over a ``RaftCluster``; randomness (which server, which
command, how long to sleep) comes from the run's ``workload`` and ``faults`` streams.
"""

from __future__ import annotations

from typing import Any, Generator

import simpy

from scenarios.raft_harness import ELECTION_TIMEOUT, MAX_LOG_SIZE, SNAPSHOT_INTERVAL, RaftCluster
from scenarios.registry import scenario
from scenarios.runner import RunContext, ScenarioFailure

ET = ELECTION_TIMEOUT
Gen = Generator[Any, Any, None]


def _fail(message: str) -> None:
    raise ScenarioFailure(message)


# ---------------------------------------------------------------- 3A: leader election

@scenario("InitialElection3A", "3A", "initial election: one leader, terms agree and stay put")
def initial_election(ctx: RunContext) -> Gen:
    c = RaftCluster(ctx, 3)
    yield from c.check_one_leader()
    yield ctx.sleep(50)
    term1 = c.check_terms()
    if term1 < 1:
        _fail(f"term is {term1}, but should be at least 1")
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
            _fail("some have committed before Start()")
        got = yield from c.one(index * 100, 3, False)
        if got != index:
            _fail(f"got index {got} but expected {index}")
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
            _fail(f"got index {got} but expected {index}")
        sent += len(cmd)
    used = c.bytes_total() - bytes0
    expected = 3 * sent
    ctx.facts["rpc_bytes"] = used
    if used > expected + 50_000:
        _fail(f"too many RPC bytes; got {used}, expected {expected}")
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
        _fail("leader rejected Start()")
    if index != 4:
        _fail(f"expected index 4, got {index}")
    yield ctx.sleep(2 * ET)
    count, _ = c.n_committed(index)
    if count > 0:
        _fail(f"{count} committed but no majority")
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
        _fail(f"{count} committed but no majority")
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
        _fail("leader rejected Start()")
    if index != 2:
        _fail(f"expected index 2, got {index}")
    yield ctx.sleep(2 * ET)
    count, _ = c.n_committed(index)
    if count > 0:
        _fail(f"{count} committed but no majority")
    for k in (1, 2, 3):
        c.connect((leader + k) % n)
    leader2 = yield from c.check_one_leader()
    index2, _, ok2 = c.start(leader2, 30)
    if not ok2:
        _fail("leader2 rejected Start()")
    if not 2 <= index2 <= 3:
        _fail(f"unexpected index {index2}")
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
                    _fail(f"cmd {100 + i} missing in {cmds}")
            c.end()
            return
    _fail("term changed too often")


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
        _fail(f"too many or few RPCs ({total1}) to elect initial leader")
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
                _fail("Start() failed")
        if retry:
            continue
        for i in range(1, iters + 1):
            cmd = yield from c.wait(starti + i, n, term)
            if cmd != cmds[i - 1]:
                if cmd == -1:
                    retry = True
                    break
                _fail(f"wrong value {cmd} committed for index {starti + i}; "
                      f"expected {cmds[i - 1]}")
        if retry:
            continue
        if any(c.get_state(j)[0] != term for j in range(n)):
            continue
        total2 = c.rpc_total()
        ctx.facts["agreement_rpcs"] = total2 - total1
        if total2 - total1 > (iters + 1 + 3) * 3:
            _fail(f"too many RPCs ({total2 - total1}) for {iters} entries")
        success = True
        break
    if not success:
        _fail("term changed too often")
    yield ctx.sleep(ET)
    total3 = c.rpc_total()
    ctx.facts["idle_rpcs"] = total3 - total2
    if total3 - total2 > 3 * 20:
        _fail(f"too many RPCs ({total3 - total2}) for 1 second of idleness")
    c.end()


# ---------------------------------------------------------------- 3C: persistence

@scenario("Persist13C", "3C", "basic persistence")
def persist1(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n)
    yield from c.one(11, n, True)
    for i in range(n):                          # crash and re-start all
        c.start1(i)
    for i in range(n):
        c.disconnect(i)
        c.connect(i)
    yield from c.one(12, n, True)
    leader1 = yield from c.check_one_leader()
    c.disconnect(leader1)
    c.start1(leader1)
    c.connect(leader1)
    yield from c.one(13, n, True)
    leader2 = yield from c.check_one_leader()
    c.disconnect(leader2)
    yield from c.one(14, n - 1, True)
    c.start1(leader2)
    c.connect(leader2)
    yield from c.wait(4, n, -1)                 # leader2 catches up before i3 goes
    i3 = ((yield from c.check_one_leader()) + 1) % n
    c.disconnect(i3)
    yield from c.one(15, n - 1, True)
    c.start1(i3)
    c.connect(i3)
    yield from c.one(16, n, True)
    c.end()


@scenario("Persist23C", "3C", "more persistence: stale logs must not win elections")
def persist2(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n)
    index = 1
    for _ in range(5):
        yield from c.one(10 + index, n, True)
        index += 1
        leader1 = yield from c.check_one_leader()
        c.disconnect((leader1 + 1) % n)
        c.disconnect((leader1 + 2) % n)
        yield from c.one(10 + index, n - 2, True)
        index += 1
        for k in (0, 3, 4):
            c.disconnect((leader1 + k) % n)
        c.start1((leader1 + 1) % n)
        c.start1((leader1 + 2) % n)
        c.connect((leader1 + 1) % n)
        c.connect((leader1 + 2) % n)
        yield ctx.sleep(ET)
        c.start1((leader1 + 3) % n)
        c.connect((leader1 + 3) % n)
        yield from c.one(10 + index, n - 2, True)
        index += 1
        c.connect((leader1 + 4) % n)
        c.connect((leader1 + 0) % n)
    yield from c.one(1000, n, True)
    c.end()


@scenario("Persist33C", "3C", "partitioned leader and one follower crash, leader restarts")
def persist3(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n)
    yield from c.one(101, 3, True)
    leader = yield from c.check_one_leader()
    c.disconnect((leader + 2) % n)
    yield from c.one(102, 2, True)
    c.crash1((leader + 0) % n)
    c.crash1((leader + 1) % n)
    c.connect((leader + 2) % n)
    c.start1((leader + 0) % n)
    c.connect((leader + 0) % n)
    yield from c.one(103, 2, True)
    c.start1((leader + 1) % n)
    c.connect((leader + 1) % n)
    yield from c.one(104, n, True)
    c.end()


def _figure8_sleep(c: RaftCluster) -> float:
    if c.fault_rng.randrange(1000) < 100:
        return float(c.fault_rng.randrange(int(ET / 2)))
    return float(c.fault_rng.randrange(13))


@scenario("Figure83C", "3C", "Figure 8: leaders crash right after Start()")
def figure8(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n)
    yield from c.one(c.random_command(), 1, True)
    nup = n
    for _ in range(1000):
        leader = -1
        for i in range(n):
            if c.up(i):
                _, _, ok = c.start(i, c.random_command())
                if ok:
                    leader = i
        yield ctx.sleep(_figure8_sleep(c))
        if leader != -1:
            c.crash1(leader)
            nup -= 1
        if nup < 3:
            s = c.fault_rng.randrange(n)
            if not c.up(s):
                c.start1(s)
                c.connect(s)
                nup += 1
    for i in range(n):
        if not c.up(i):
            c.start1(i)
            c.connect(i)
    yield from c.one(c.random_command(), n, True)
    c.end()


@scenario("UnreliableAgree3C", "3C", "agreement on an unreliable network")
def unreliable_agree(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n, reliable=False)
    workers = []
    for iters in range(1, 50):
        for j in range(4):
            workers.append(ctx.env.process(c.one(100 * iters + j, 1, True)))
        yield from c.one(iters, 1, True)
    c.net.set_params(_reliable(c.net.params))
    yield simpy.AllOf(ctx.env, workers)
    yield from c.one(100, n, True)
    c.end()


def _reliable(params: Any, reliable: bool = True) -> Any:
    import msgspec
    return msgspec.structs.replace(params, reliable=reliable)


@scenario("Figure8Unreliable3C", "3C", "Figure 8 on an unreliable network with long reordering")
def figure8_unreliable(ctx: RunContext) -> Gen:
    import msgspec
    n = 5
    c = RaftCluster(ctx, n, reliable=False)
    yield from c.one(c.rng.randrange(10000), 1, True)
    nup = n
    for iters in range(1000):
        if iters == 200:
            c.net.set_params(msgspec.structs.replace(c.net.params, long_reordering=True))
        leader = -1
        for i in range(n):
            _, _, ok = c.start(i, c.rng.randrange(10000))
            if ok and c.connected(i):
                leader = i
        yield ctx.sleep(_figure8_sleep(c))
        if leader != -1 and c.fault_rng.randrange(1000) < int(ET) // 2:
            c.disconnect(leader)
            nup -= 1
        if nup < 3:
            s = c.fault_rng.randrange(n)
            if not c.connected(s):
                c.connect(s)
                nup += 1
    for i in range(n):
        if not c.connected(i):
            c.connect(i)
    yield from c.one(c.rng.randrange(10000), n, True)
    c.end()


def _churn(ctx: RunContext, unreliable: bool) -> Gen:
    n = 5
    c = RaftCluster(ctx, n, reliable=not unreliable)
    stop = [False]

    def client(me: int) -> Generator[Any, Any, list[int]]:
        rng = ctx.world.rng(f"workload/churn{me}")
        values: list[int] = []
        while not stop[0]:
            x = rng.randrange(1 << 31)
            index, ok = -1, False
            for i in range(n):                  # try them all, maybe one is the leader
                if c.up(i):
                    index1, _, ok1 = c.start(i, x)
                    if ok1:
                        ok, index = ok1, index1
            if ok:
                for to in (10, 20, 50, 100, 200):   # maybe it commits, but don't wait forever
                    count, cmd = c.n_committed(index)
                    if count > 0:
                        if cmd == x:
                            values.append(x)
                        break
                    yield ctx.sleep(to)
            else:
                yield ctx.sleep(79 + me * 17)
        return values

    clients = [ctx.env.process(client(i)) for i in range(3)]
    for _ in range(20):
        if c.fault_rng.randrange(1000) < 200:
            c.disconnect(c.fault_rng.randrange(n))
        if c.fault_rng.randrange(1000) < 500:
            i = c.fault_rng.randrange(n)
            if not c.up(i):
                c.start1(i)
            c.connect(i)
        if c.fault_rng.randrange(1000) < 200:
            i = c.fault_rng.randrange(n)
            if c.up(i):
                c.crash1(i)
        yield ctx.sleep(ET * 7 / 10)
    yield ctx.sleep(ET)
    c.net.set_params(_reliable(c.net.params))
    for i in range(n):
        if not c.up(i):
            c.start1(i)
        c.connect(i)
    stop[0] = True
    values: list[int] = []
    for proc in clients:
        got = yield proc
        if got is None:
            _fail("client failed")
        values.extend(got)
    yield ctx.sleep(ET)
    last_index = yield from c.one(c.random_command(), n, True)
    really = []
    for index in range(1, last_index + 1):
        v = yield from c.wait(index, n, -1)
        really.append(v)
    really_set = set(really)
    for v in values:
        if v not in really_set:
            _fail(f"didn't find a value {v}")
    ctx.facts["client_values"] = len(values)
    c.end()


@scenario("ReliableChurn3C", "3C", "churn: disconnects, crashes and restarts under load")
def reliable_churn(ctx: RunContext) -> Gen:
    yield from _churn(ctx, unreliable=False)


@scenario("UnreliableChurn3C", "3C", "churn on an unreliable network")
def unreliable_churn(ctx: RunContext) -> Gen:
    yield from _churn(ctx, unreliable=True)


# ---------------------------------------------------------------- 3D: snapshots

def _snapcommon(ctx: RunContext, disconnect: bool, reliable: bool, crash: bool) -> Gen:
    n = 3
    c = RaftCluster(ctx, n, reliable=reliable, snapshot=True)
    yield from c.one(c.random_command(), n, True)
    leader1 = yield from c.check_one_leader()
    for i in range(30):
        victim, sender = (leader1 + 1) % n, leader1
        if i % 3 == 1:
            sender, victim = (leader1 + 1) % n, leader1
        if disconnect:
            c.disconnect(victim)
            yield from c.one(c.random_command(), n - 1, True)
        if crash:
            c.crash1(victim)
            yield from c.one(c.random_command(), n - 1, True)
        for _ in range(SNAPSHOT_INTERVAL // 2 + c.rng.randrange(SNAPSHOT_INTERVAL)):
            c.start(sender, c.random_command())     # perhaps enough to get a snapshot
        if not disconnect and not crash:
            # all followers catch up, so no InstallSnapshot is needed (SnapshotBasic)
            yield from c.one(c.random_command(), n, True)
        else:
            yield from c.one(c.random_command(), n - 1, True)
        size = c.log_size()
        ctx.facts["max_log_size"] = max(size, ctx.facts.get("max_log_size", 0))
        if size >= MAX_LOG_SIZE:
            _fail(f"Log size too large: {size} bytes")
        if disconnect:                          # a follower that may need a snapshot
            c.connect(victim)
            yield from c.one(c.random_command(), n, True)
            leader1 = yield from c.check_one_leader()
        if crash:
            c.start1(victim)
            c.connect(victim)
            yield from c.one(c.random_command(), n, True)
            leader1 = yield from c.check_one_leader()
    c.end()


@scenario("SnapshotBasic3D", "3D", "snapshots basic")
def snapshot_basic(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=False, reliable=True, crash=False)


@scenario("SnapshotInstall3D", "3D", "install snapshots (disconnect)")
def snapshot_install(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=True, reliable=True, crash=False)


@scenario("SnapshotInstallUnreliable3D", "3D", "install snapshots (disconnect + unreliable)")
def snapshot_install_unreliable(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=True, reliable=False, crash=False)


@scenario("SnapshotInstallCrash3D", "3D", "install snapshots (crash)")
def snapshot_install_crash(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=False, reliable=True, crash=True)


@scenario("SnapshotInstallUnCrash3D", "3D", "install snapshots (unreliable + crash)")
def snapshot_install_uncrash(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=False, reliable=False, crash=True)


@scenario("SnapshotAllCrash3D", "3D", "crash and restart all servers")
def snapshot_all_crash(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n, snapshot=True)
    yield from c.one(c.random_command(), n, True)
    for _ in range(5):
        for _ in range(SNAPSHOT_INTERVAL // 2 + c.rng.randrange(SNAPSHOT_INTERVAL)):
            yield from c.one(c.random_command(), n, True)   # perhaps enough for a snapshot
        index1 = yield from c.one(c.random_command(), n, True)
        for i in range(n):
            c.crash1(i)
        for i in range(n):
            c.start1(i)
            c.connect(i)
        index2 = yield from c.one(c.random_command(), n, True)
        if index2 < index1 + 1:
            _fail(f"index decreased from {index1} to {index2}")
    c.end()


@scenario("SnapshotInit3D", "3D", "snapshot initialization after crash")
def snapshot_init(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n, snapshot=True)
    yield from c.one(c.random_command(), n, True)
    for _ in range(SNAPSHOT_INTERVAL + 1):      # enough ops to make a snapshot
        yield from c.one(c.random_command(), n, True)
    for _ in range(2):
        for i in range(n):
            c.crash1(i)
        for i in range(n):
            c.start1(i)
            c.connect(i)
        # one op gets something written back to storage; the second would expose a
        # restarted server that forgot its in-memory snapshot
        yield from c.one(c.random_command(), n, True)
    c.end()
