"""The local stack: the real collector, Jaeger, Prometheus and Loki built here and run on 127.0.0.1."""
