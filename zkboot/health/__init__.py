"""What Kubernetes and people ask of a running server: probes, ensemble status, metrics."""
