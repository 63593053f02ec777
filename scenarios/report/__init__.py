"""Reports a person reads: views of a run or a campaign as plain data, then one HTML page.

``views.py`` computes what a run report shows from a trace (the message-sequence diagram, fault
periods, client operations, latency and throughput, per-node counts; the linearizability view
is the checker's). ``campaign.py`` does the same for a campaign database. ``html.py`` renders
either with Jinja2 templates into one self-contained page.
"""
