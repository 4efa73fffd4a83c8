"""Integrations: prices fetched (issue 12, item 4) -- ENTSO-E day-ahead and a generic CSV/JSON URL.

Why here and not in `timeseries/`: the fetch both stores prices (through `timeseries.ingest`, the
upload endpoints' path) and raises alerts (`decisions` alerts), and `timeseries/` must not import
`decisions/`. An integration may use both domains, so the orchestration lives here; the parsing of
A44, CSV and JSON stays in `timeseries/` and is reused unchanged.
"""
