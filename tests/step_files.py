"""Step files for the explorer's command-line tests (``--step FILE:step``): sources written to
a temporary folder, and the bounds within which each one's bug is found."""

#: A Raft step whose RequestVote claims an enormous last log term, so any candidate wins any
#: vote: two leaders in one term within the bounds of ``VOTEBUG_ARGS``.
VOTEBUG = '''from msgspec.structs import replace
from protocols import raft
from protocols.core import Receive

def step(state, event):
    if type(event) is Receive and type(event.msg) is raft.RequestVote:
        event = Receive(event.src, replace(event.msg, last_log_term=10**6))
    return raft.step(state, event)
'''
VOTEBUG_ARGS = ("--max-term", "2", "--max-log", "1", "--per-link", "2", "--symmetry")
