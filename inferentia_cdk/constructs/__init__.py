"""Constructs of inferentia-cdk, one per module."""
