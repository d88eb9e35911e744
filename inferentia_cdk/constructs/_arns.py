"""ARN helpers shared by the constructs."""

from __future__ import annotations

import aws_cdk as cdk


def any_autoscaling_group_arn(stack: cdk.Stack) -> str:
    """Every Auto Scaling group of the stack's account and region: the names of the groups EKS creates for managed
    node groups end in a random suffix unknown until deploy, so policies pair this ARN with tag conditions."""
    return stack.format_arn(
        service="autoscaling",
        resource="autoScalingGroup",
        resource_name="*:autoScalingGroupName/*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
