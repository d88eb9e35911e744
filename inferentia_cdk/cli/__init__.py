"""The ``inferentia-cdk`` command (validate, plan, quota). Never imports aws_cdk, so it starts fast."""
