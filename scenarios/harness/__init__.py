"""The testers around a cluster (the lab's config.go): build hosts on a network, watch Raft's
invariants, apply the lab's checks; and the random fault setup the random suites share.

``raft`` (RaftCluster), ``service`` (ServiceCluster: any service over Raft), ``kv`` (KVCluster,
Clerk and the lab's kvraft test bodies), ``shardctrler`` (CtrlCluster and the lab's checks),
``observe`` (RaftObserver: Raft's invariants and the oracles of docs/oracles.md), ``liveness``
(the end-of-run liveness check after the last heal), ``faults`` (what a random run draws from
its seed).
"""
