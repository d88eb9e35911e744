"""Service Quotas: the vCPUs node groups need against what EC2 grants, and the deploy-time check's Lambda code."""
