"""Grafana dashboards as code: panel queries from the conventions module (`queries.py`), built
with Grafana's SDK (`build.py`, needs the `dashboards` extra)."""
