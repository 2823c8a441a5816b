"""Campaigns: one perk to every eligible member of an audience, issued in chunks by Celery.

`services` changes them, `selectors` reads them, `tasks` runs their jobs, `receivers`
listens to the loyalty side (auto-issue on reaching a tier).
"""
