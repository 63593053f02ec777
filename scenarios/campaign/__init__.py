"""Fault campaigns: one scenario over many seeds, results durable in SQLite.

``db`` holds the results (``CampaignDB``, ``SeedResult``); ``local`` runs seeds in a pool of
worker processes on this machine (``run_campaign``).
"""

from scenarios.campaign.db import SCHEMA_VERSION, CampaignDB, CampaignError, SeedResult
from scenarios.campaign.local import run_campaign, run_one

__all__ = ["CampaignDB", "CampaignError", "SeedResult", "SCHEMA_VERSION", "run_campaign",
           "run_one"]
