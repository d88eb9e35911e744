"""``ApiLoadBalancer``: the one Application Load Balancer in front of every exposed API, and the AWS Load Balancer
Controller that registers the APIs' pods in their target groups.

The load balancer is a CloudFormation resource of the cluster stack, not something the controller creates from an
Ingress at run time: ``cdk destroy`` removes it (controller-made load balancers outlive the stack and block the VPC's
deletion), its DNS name is known at deploy time, and cdk-nag checks it. Per-API target groups and listener rules
belong to the APIs stack (:class:`inferentia_cdk.constructs.api_endpoint.ApiEndpoint`).
"""

from __future__ import annotations

import ipaddress

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from ..catalog import versions
from ..config.models import EndpointsSpec
from ..config.problems import Problem, argument_problem, raise_for_errors, rule
from ..planning.endpoints import REGION_FOR_ENDPOINTS, EndpointsPlan, check_endpoints_spec, exposed_api_problems

VPC_CIDR_LITERAL = rule("ARG250", "error", "ApiLoadBalancer knows the VPC's IPv4 CIDR as a literal (vpc_cidr)")

# TLS 1.3 and 1.2 with forward-secret AEAD ciphers only, and post-quantum key exchange where the client offers it.
TLS_POLICY = elbv2.SslPolicy.TLS13_12_RES_PQ
ACCESS_LOG_PREFIX = "api-load-balancer"
ACCESS_LOG_RETENTION = cdk.Duration.days(365)


class ApiLoadBalancer(Construct):
    """An Application Load Balancer (child id ``Resource``) with one listener whose default answer is 404, its own
    security group, access logs, and the AWS Load Balancer Controller on ``cluster``.

    :param cluster: the EKS cluster whose pods the load balancer calls; the controller is installed on it with
        aws-cdk-lib's ``AlbController`` at ``versions.AWS_LOAD_BALANCER_CONTROLLER`` (the IAM policy that release
        documents, granted through IRSA; see :func:`install_controller`).
    :param vpc: the cluster's VPC. Internal load balancers sit in its private subnets, internet-facing ones in its
        public subnets.
    :param plan: the endpoints plan (``planning.endpoints.plan_endpoints``). With a certificate the listener is HTTPS on
        443 with ``TLS_POLICY``, otherwise HTTP on 80 (internal only; the config rules refuse internet-facing HTTP).
        Only ``allowed_cidrs`` (default: ``vpc_cidr``) may connect, and only to the listener port; the load balancer
        itself reaches only ``vpc_cidr`` on the exposed APIs' ports.
    :param vpc_cidr: the VPC's IPv4 CIDR as a literal (default: ``vpc.vpc_cidr_block`` when that is one, as for a
        looked-up VPC; a VPC this app creates has it only at deploy time, so pass the CIDR it was given).

    Every argument is checked, and ``plan`` with the config path's rules (``check_endpoints_spec``, in the stack's
    region and account when they are known), before anything is created: a wrong one raises ``ConfigError``.

    Access logs go to an S3 bucket of their own (SSE-S3: the only encryption ALB log delivery supports), kept a year
    and retained when the stack is deleted, because they are the record of who called the APIs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.Cluster,
        vpc: ec2.IVpc,
        plan: EndpointsPlan,
        vpc_cidr: str | None = None,
    ):
        vpc_cidr = _check_arguments(scope, cluster=cluster, vpc=vpc, plan=plan, vpc_cidr=vpc_cidr)
        super().__init__(scope, construct_id)
        self.plan = plan
        self.vpc_cidr = vpc_cidr
        spec = plan.spec
        port = plan.listener_port
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"inferentia-cdk API load balancer: clients on {port}, pods on their API ports",
            allow_all_outbound=False,
        )
        for cidr in plan.client_cidrs(vpc_cidr):
            peer = ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
            self.security_group.add_ingress_rule(peer, ec2.Port.tcp(port), f"API clients from {cidr}")
        # Health checks use the traffic port, so the APIs' ports are all the load balancer ever calls.
        for api_port in plan.api_ports:
            self.security_group.add_egress_rule(
                ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp(api_port), f"API pods in the VPC on {api_port}"
            )
        subnet_type = ec2.SubnetType.PUBLIC if plan.internet_facing else ec2.SubnetType.PRIVATE_WITH_EGRESS
        subnets = ec2.SubnetSelection(subnet_type=subnet_type)
        self.subnet_cidrs: tuple[str, ...] = tuple(
            cidr
            for subnet in vpc.select_subnets(subnet_type=subnet_type).subnets
            if not cdk.Token.is_unresolved(cidr := subnet.ipv4_cidr_block)
        )
        """The CIDRs of the load balancer's subnets, where its connections to the pods come from (the APIs'
        NetworkPolicies admit them); empty when the VPC's subnets have no literal CIDRs."""
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Resource",
            vpc=vpc,
            internet_facing=plan.internet_facing,
            vpc_subnets=subnets,
            security_group=self.security_group,
            idle_timeout=cdk.Duration.seconds(spec.idle_timeout_seconds),
            drop_invalid_header_fields=True,
        )
        # Imported here: aws_s3 (and the aws_events it pulls in) is the only module of this file that an app without
        # endpoints would not load anyway, and it costs 0.05-0.1 s of every synth.
        from aws_cdk import aws_s3 as s3

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOG_RETENTION)],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.load_balancer.log_access_logs(self.access_logs, prefix=ACCESS_LOG_PREFIX)
        not_found = elbv2.ListenerAction.fixed_response(
            404, content_type="text/plain", message_body="no API at this path: call /<api-name>/...\n"
        )
        if plan.https:
            assert spec.certificate_arn is not None
            self.listener = self.load_balancer.add_listener(
                "Listener",
                port=port,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(spec.certificate_arn)],
                ssl_policy=TLS_POLICY,
                default_action=not_found,
                open=False,
            )
        else:
            self.listener = self.load_balancer.add_listener(
                "Listener", port=port, protocol=elbv2.ApplicationProtocol.HTTP, default_action=not_found, open=False
            )
        self.controller = install_controller(self, cluster)

    @property
    def host(self) -> str:
        """The host name in the APIs' URLs: ``endpoints.domain_name``, or the load balancer's own DNS name."""
        return self.plan.spec.domain_name or self.load_balancer.load_balancer_dns_name


def _literal_ipv4_cidr(value: object) -> bool:
    if not isinstance(value, str) or cdk.Token.is_unresolved(value):
        return False
    try:
        return isinstance(ipaddress.ip_network(value, strict=True), ipaddress.IPv4Network) and "/" in value
    except ValueError:
        return False


def _check_arguments(scope: Construct, *, cluster: object, vpc: object, plan: object, vpc_cidr: object) -> str:
    """The VPC's literal CIDR, once every argument has been checked; ``ConfigError`` for any wrong one."""
    problems: list[Problem] = []
    if not isinstance(cluster, eks.Cluster):
        problems.append(argument_problem("cluster", cluster, "an aws_eks_v2.Cluster"))
    # jsii interfaces are no runtime classes, and an imported or looked-up VPC is a proxy of IVpc, no Construct.
    if not (hasattr(vpc, "vpc_cidr_block") and hasattr(vpc, "select_subnets")):
        problems.append(argument_problem("vpc", vpc, "an aws_ec2.IVpc (the cluster's VPC)"))
    if not isinstance(plan, EndpointsPlan) or not isinstance(plan.spec, EndpointsSpec):
        problems.append(argument_problem("plan", plan, "an EndpointsPlan (plan_endpoints(config))"))
    else:
        stack = cdk.Stack.of(scope)
        known = {
            name: None if cdk.Token.is_unresolved(value) else value
            for name, value in (("region", stack.region), ("account", stack.account))
        }
        problems += check_endpoints_spec(plan.spec, path=("plan", "spec"), **known)
        if known["region"] is None:
            problems.append(
                REGION_FOR_ENDPOINTS.problem(
                    ("scope",),
                    f"stack {stack.node.path} has no region: the access log bucket's policy names the region's Elastic "
                    "Load Balancing log delivery; give the stack env=cdk.Environment(region=...)",
                )
            )
        if not plan.apis:
            problems.append(argument_problem(("plan", "apis"), plan.apis, "at least one ExposedApi"))
        for i, api in enumerate(plan.apis):
            problems += exposed_api_problems(api, ("plan", "apis", i))
    if vpc_cidr is None and not problems:
        vpc_cidr = getattr(vpc, "vpc_cidr_block", None)
        if not _literal_ipv4_cidr(vpc_cidr):
            problems.append(
                VPC_CIDR_LITERAL.problem(
                    ("vpc_cidr",),
                    "is required: the VPC's CIDR is known only at deploy time, and the load balancer's security group "
                    "rules need it as a literal; pass the IPv4 CIDR the VPC was created with, such as '10.0.0.0/16'",
                )
            )
    elif vpc_cidr is not None and not _literal_ipv4_cidr(vpc_cidr):
        problems.append(
            argument_problem("vpc_cidr", vpc_cidr, "the VPC's IPv4 CIDR as a string, such as '10.0.0.0/16'")
        )
    raise_for_errors(problems)
    assert isinstance(vpc_cidr, str)
    return vpc_cidr


def install_controller(scope: Construct, cluster: eks.Cluster) -> eks.AlbController:
    """The AWS Load Balancer Controller at ``versions.AWS_LOAD_BALANCER_CONTROLLER``, newer than aws-cdk-lib's enum.

    ``AlbControllerVersion.of`` would make us ship the release's IAM policy file ourselves. That policy is the one
    aws-cdk-lib bundles for ``versions.AWS_LOAD_BALANCER_CONTROLLER_POLICY_OF`` (see catalog/versions.py), so the
    controller is built at that version, which grants that policy, and its Helm chart is moved to the pinned release:
    the image tag through ``additional_helm_chart_values`` (applied after aws-cdk-lib's own values), and the chart
    version through an L1 override, since no prop sets a built-in version's chart version.
    """
    built_in = getattr(
        eks.AlbControllerVersion, versions.AWS_LOAD_BALANCER_CONTROLLER_POLICY_OF.upper().replace(".", "_")
    )
    controller = eks.AlbController(
        scope,
        "Controller",
        cluster=cluster,
        version=built_in,
        # The public gallery copy of the release image: one address in every region, no ECR login.
        repository=versions.AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY,
        additional_helm_chart_values={
            "image": {
                "repository": versions.AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY,
                "tag": versions.AWS_LOAD_BALANCER_CONTROLLER,
            }
        },
    )
    # HelmChart "Resource" > its CustomResource > the CfnResource that carries the chart's properties.
    chart = controller.node.find_child("Resource").node.default_child
    resource = chart.node.default_child if chart is not None else None
    assert isinstance(resource, cdk.CfnResource)
    resource.add_property_override("Version", versions.AWS_LOAD_BALANCER_CONTROLLER_CHART)
    return controller
