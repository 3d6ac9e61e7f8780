"""Deployment checks: the Helm chart, the Istio manifests and the container image."""
