"""Lambda code of the deploy-time quota check; shipped as an asset with ``quota.py`` (see NeuronQuotaCheck)."""
