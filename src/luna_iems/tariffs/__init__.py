"""Tariffs: what energy costs a site (fixed, time-of-use, dynamic), used by KPIs, optimiser and what-if."""
