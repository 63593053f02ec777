"""Preloaded by every worker of a ``--scheduler local:N`` cluster (``distributed`` imports it as
the worker starts): the workers share the terminal's process group, so a Ctrl-C reaches them
too, but stopping them is the client's job (it closes the cluster), and a worker must never
print a traceback for it. A worker therefore ignores SIGINT."""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
