"""ApiLoadBalancer, ApiEndpoint, Keda and ContainerInsights used as a library: every keyword argument is checked, and
the endpoints section by the config path's own rules, before anything is created (issue 19, item 8). Nothing here is
synthesized; each case builds constructs on a bare cluster."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from synth_support import bare_cluster

from inferentia_cdk.config.models import EndpointsSpec
from inferentia_cdk.config.problems import ConfigError
from inferentia_cdk.constructs.api_endpoint import ApiEndpoint
from inferentia_cdk.constructs.api_load_balancer import ApiLoadBalancer
from inferentia_cdk.constructs.keda import Keda
from inferentia_cdk.constructs.observability import ContainerInsights
from inferentia_cdk.planning.endpoints import EndpointsPlan, ExposedApi, output_id

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b5a2f7c-1d9e-4a4b-8c8d-0e2f4a6b8c0d"
API = ExposedApi("bert", 8080, "/healthz", 17, output_id("bert"))


def _cluster(stack: cdk.Stack, **options: Any) -> eks.Cluster:
    return eks.Cluster(
        stack,
        "Cluster",
        version=eks.KubernetesVersion.V1_36,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(stack, "KubectlLayer")),
        **options,
    )


@pytest.fixture(scope="module")
def cluster() -> eks.Cluster:
    """One cluster and VPC in a stack with a region for every case: a refused construct adds nothing to the tree."""
    stack = cdk.Stack(cdk.App(), "Arguments", env=cdk.Environment(region="us-east-1"))
    ec2.Vpc(stack, "Vpc", ip_addresses=ec2.IpAddresses.cidr("10.0.0.0/16"))
    return _cluster(stack, cluster_name="arguments")


@pytest.fixture(scope="module")
def vpc(cluster: eks.Cluster) -> ec2.Vpc:
    found = cdk.Stack.of(cluster).node.find_child("Vpc")
    assert isinstance(found, ec2.Vpc)
    return found


def _plan(**spec: Any) -> EndpointsPlan:
    return EndpointsPlan(EndpointsSpec(**spec), (API,))


def _paths(error: pytest.ExceptionInfo[ConfigError]) -> set[tuple[Any, ...]]:
    return {p.path for p in error.value.problems}


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        # An internet-facing load balancer without TLS, open to everyone without saying so.
        ({"plan": _plan(scheme="internet-facing", allowed_cidrs=["0.0.0.0/0"])}, ("plan", "spec", "certificate_arn")),
        ({"plan": _plan(scheme="internet-facing", allowed_cidrs=["0.0.0.0/0"])}, ("plan", "spec", "allowed_cidrs", 0)),
        ({"plan": _plan(certificate_arn="arn:aws:acm:::junk")}, ("plan", "spec", "certificate_arn")),
        ({"plan": _plan(allowed_cidrs=["10.0.0.1/16"])}, ("plan", "spec", "allowed_cidrs", 0)),
        ({"plan": EndpointsPlan(EndpointsSpec(), ())}, ("plan", "apis")),
        ({"plan": EndpointsPlan(EndpointsSpec(), (replace(API, port=80),))}, ("plan", "apis", 0, "port")),
        ({"plan": None}, ("plan",)),
        ({"plan": {"scheme": "internal"}}, ("plan",)),
        ({"cluster": None}, ("cluster",)),
        ({"cluster": "my-cluster"}, ("cluster",)),
        ({"vpc": "vpc-0123"}, ("vpc",)),
        ({"vpc_cidr": 10}, ("vpc_cidr",)),
        ({"vpc_cidr": "10.0.0.1/16"}, ("vpc_cidr",)),
        ({"vpc_cidr": "10.0.0.0"}, ("vpc_cidr",)),
        ({"vpc_cidr": None}, ("vpc_cidr",)),  # a VPC of this app: its CIDR is a deploy-time attribute
    ],
)
def test_the_load_balancer_refuses_what_the_config_path_refuses(
    cluster: eks.Cluster, vpc: ec2.Vpc, arguments: dict[str, Any], path: tuple[Any, ...]
) -> None:
    given: dict[str, Any] = {"cluster": cluster, "vpc": vpc, "plan": _plan(), "vpc_cidr": "10.0.0.0/16", **arguments}
    scope = cdk.Stack.of(cluster)
    with pytest.raises(ConfigError) as error:
        ApiLoadBalancer(scope, f"Refused{len(scope.node.children)}", **given)
    assert path in _paths(error)
    assert scope.node.try_find_child(f"Refused{len(scope.node.children)}") is None


def test_a_stack_without_a_region_is_refused_before_aws_cdk_lib_throws() -> None:
    built = bare_cluster("NoRegion")
    with pytest.raises(ConfigError) as error:
        ApiLoadBalancer(cdk.Stack.of(built), "Lb", cluster=built, vpc=built.vpc, plan=_plan(), vpc_cidr="10.0.0.0/16")
    assert _paths(error) == {("scope",)}


def test_a_certificate_of_another_region_than_the_stacks_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Placed", env=cdk.Environment(region="eu-west-1"))
    built = _cluster(stack)
    with pytest.raises(ConfigError) as error:
        ApiLoadBalancer(
            stack, "Lb", cluster=built, vpc=built.vpc, plan=_plan(certificate_arn=CERTIFICATE), vpc_cidr="10.0.0.0/16"
        )
    assert ("plan", "spec", "certificate_arn") in _paths(error)


def test_a_valid_load_balancer_opens_only_its_listener_and_the_api_ports(cluster: eks.Cluster, vpc: ec2.Vpc) -> None:
    plan = EndpointsPlan(
        EndpointsSpec(), (API, replace(API, name="resnet", port=9000, output_id="ResnetUrl", priority=9))
    )
    built = ApiLoadBalancer(
        cdk.Stack.of(cluster), "Accepted", cluster=cluster, vpc=vpc, plan=plan, vpc_cidr="10.0.0.0/16"
    )
    group = built.security_group.node.default_child
    assert isinstance(group, ec2.CfnSecurityGroup)
    stack = cdk.Stack.of(cluster)
    egress = stack.resolve(group.security_group_egress)
    assert sorted((rule["cidrIp"], rule["fromPort"], rule["toPort"]) for rule in egress) == [
        ("10.0.0.0/16", 8080, 8080),
        ("10.0.0.0/16", 9000, 9000),
    ]
    ingress = stack.resolve(group.security_group_ingress)
    assert [(rule["cidrIp"], rule["fromPort"]) for rule in ingress] == [("10.0.0.0/16", 80)]
    assert built.subnet_cidrs and all("/" in cidr for cidr in built.subnet_cidrs)


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({"api": None}, ("api",)),
        ({"api": {"name": "bert"}}, ("api",)),
        ({"api": replace(API, name="Bert")}, ("api", "name")),
        ({"api": replace(API, port=True)}, ("api", "port")),
        ({"api": replace(API, port="8080")}, ("api", "port")),
        ({"api": replace(API, health_path="healthz")}, ("api", "health_path")),
        ({"api": replace(API, priority=0)}, ("api", "priority")),
        ({"api": replace(API, priority=50_001)}, ("api", "priority")),
        ({"api": replace(API, output_id="Other")}, ("api", "output_id")),
        ({"listener": None}, ("listener",)),
        ({"listener": "arn:aws:elasticloadbalancing:listener"}, ("listener",)),
        ({"vpc": None}, ("vpc",)),
    ],
)
def test_an_endpoint_refuses_what_the_config_path_refuses(
    cluster: eks.Cluster, vpc: ec2.Vpc, arguments: dict[str, Any], path: tuple[Any, ...]
) -> None:
    stack = cdk.Stack.of(cluster)
    balancer = stack.node.try_find_child("ForEndpoints")
    if balancer is None:
        balancer = ApiLoadBalancer(
            stack, "ForEndpoints", cluster=cluster, vpc=vpc, plan=_plan(), vpc_cidr="10.0.0.0/16"
        )
    assert isinstance(balancer, ApiLoadBalancer)
    given: dict[str, Any] = {"api": API, "listener": balancer.listener, "vpc": vpc, **arguments}
    with pytest.raises(ConfigError) as error:
        ApiEndpoint(stack, "Endpoint", **given)
    assert path in _paths(error)


@pytest.mark.parametrize("construct", [Keda, ContainerInsights])
@pytest.mark.parametrize("value", [None, "my-cluster", 1, True])
def test_keda_and_container_insights_need_an_eks_cluster(construct: Any, value: Any) -> None:
    with pytest.raises(ConfigError) as error:
        construct(cdk.Stack(cdk.App(), "NoCluster"), "Addon", cluster=value)
    assert _paths(error) == {("cluster",)}


@pytest.mark.parametrize("construct", [Keda, ContainerInsights])
def test_keda_and_container_insights_refuse_a_cluster_name_eks_and_cloudwatch_would_not_take(construct: Any) -> None:
    """The name is the ClusterName dimension of every metric they read or publish."""
    stack = cdk.Stack(cdk.App(), "BadName")
    built = _cluster(stack, cluster_name="team.prod")
    with pytest.raises(ConfigError) as error:
        construct(stack, "Addon", cluster=built)
    assert _paths(error) == {("cluster",)}
