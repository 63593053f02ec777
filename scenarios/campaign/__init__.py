"""Fault campaigns: one scenario over many seeds, results durable in SQLite.

``db`` holds the results (``CampaignDB``, ``SeedResult``); ``work`` is what a worker runs and how
the client records it (the determinism spot-check included); ``local`` runs seeds in a pool of
worker processes on this machine (``run_campaign``); ``cluster`` on a Dask cluster (imported only
when asked for: it imports Dask).
"""

from scenarios.campaign.db import SCHEMA_VERSION, CampaignDB, CampaignError, SeedResult
from scenarios.campaign.local import run_campaign
from scenarios.campaign.work import MAX_SEED, Ledger, run_one, sampled

__all__ = ["CampaignDB", "CampaignError", "SeedResult", "SCHEMA_VERSION", "run_campaign",
           "run_one", "sampled", "Ledger", "MAX_SEED"]
