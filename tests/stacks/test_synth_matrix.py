"""The synth matrix: the examples and tests/matrix/*.yaml, synthesized once each as `make synth` does (cdk.json's
context, cdk-nag on; test_gates.py runs cdk-nag, cfn-lint, checkov and kubernetes-validate over all of them), cover
every default and every switch; and what they deploy is as tight as issue 19 asks (Pod Identity trust, KEDA's Secrets,
enforced NetworkPolicies, the key's logs condition, the load balancer's egress).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ALL_APPS, MATRIX, MATRIX_APPS
from synth_support import EXAMPLES, Synthesized, _flatten

from inferentia_cdk.config.models import InferentiaConfig
from inferentia_cdk.constructs.cluster_key import LOGS_ENCRYPTION_CONTEXT
from inferentia_cdk.planning.endpoints import CLUSTER_VPC_CIDR, plan_endpoints
from inferentia_cdk.planning.loader import load_config

CONFIG_FILES = {
    "default": EXAMPLES / "inferentia.yaml",
    "full": EXAMPLES / "full.yaml",
    "llm": EXAMPLES / "llm.yaml",
    **{name: MATRIX / file for name, file in MATRIX_APPS.items()},
}
POD_IDENTITY_TAGS = ("eks-cluster-arn", "kubernetes-namespace", "kubernetes-service-account")


@pytest.fixture(scope="module")
def apps(request: pytest.FixtureRequest) -> dict[str, Synthesized]:
    return {name: request.getfixturevalue(f"{name}_app") for name in ALL_APPS}


def _features(config: InferentiaConfig) -> set[str]:
    """The defaults and switches one config exercises."""
    found = {f"family {t.split('.')[0]}" for g in config.node_groups for t in g.instance_types}
    found |= {f"ami {g.ami}" for g in config.node_groups} | {f"capacity {g.capacity_type}" for g in config.node_groups}
    found |= {f"metric {api.autoscaling.metric}" for api in config.apis}
    found.add(f"endpoint_access {config.cluster.endpoint_access}")
    found.add(f"container insights {'on' if config.container_insights() else 'off'}")
    found.add(f"dashboards {'on' if config.observability.dashboards else 'off'}")
    found |= {"monitor"} if config.deployed_device_plugin().monitor else set()
    found |= {"scheduler extension"} if config.device_plugin.scheduler_extension else set()
    found |= {"allowed_namespaces"} if any(api.allowed_namespaces for api in config.apis) else set()
    found |= {f"lnc {g.lnc}" for g in config.node_groups if g.lnc is not None}
    found |= {f"compute {api.compute.unit}" for api in config.apis}
    found |= {"startup_timeout_seconds"} if any(api.startup_timeout_seconds for api in config.apis) else set()
    found |= {"endpoint_priority"} if any(api.endpoint_priority for api in config.apis) else set()
    found |= {"engine"} if any(api.engine for api in config.apis) else set()
    found |= {"availability_zones"} if config.cluster.availability_zones else set()
    found |= {"public_access_any_source"} if config.cluster.public_access_any_source else set()
    found |= {"acknowledge"} if config.acknowledge else set()
    plan = plan_endpoints(config)
    if plan is not None:
        sources = "default CIDRs" if plan.spec.allowed_cidrs is None else "explicit CIDRs"
        found.add(f"endpoints {plan.spec.scheme}" + (f" with {sources}" if not plan.internet_facing else ""))
        if any(api.endpoint is False for api in config.apis):
            found.add("endpoint: false beside exposed APIs")
    return found


REQUIRED = {
    *(f"family {f}" for f in ("inf1", "inf2", "trn1", "trn2")),
    "ami al2023",
    "ami bottlerocket",
    "capacity on_demand",
    "capacity spot",
    *(f"metric {m}" for m in ("neuroncore_utilization", "requests_per_replica", "cpu")),
    "endpoint_access private",
    "endpoint_access public_and_private",
    "container insights on",
    "container insights off",
    "dashboards on",
    "dashboards off",
    "monitor",
    "scheduler extension",
    "allowed_namespaces",
    "endpoints internal with default CIDRs",
    "endpoints internal with explicit CIDRs",
    "endpoints internet-facing",
    "endpoint: false beside exposed APIs",
    "lnc 1",
    "compute chips",
    "compute neuroncores",
    "startup_timeout_seconds",
    "endpoint_priority",
    "engine",
    "availability_zones",
    "public_access_any_source",
    "acknowledge",
}


def test_the_matrix_covers_every_default_and_every_switch() -> None:
    assert set(CONFIG_FILES) == set(ALL_APPS)
    covered = set().union(*(_features(load_config(path).config) for path in CONFIG_FILES.values()))
    assert sorted(REQUIRED - covered) == []


def _resources(app: Synthesized, kind: str, stack: str = "Cluster") -> dict[str, dict[str, Any]]:
    return {k: r for k, r in app.template(stack)["Resources"].items() if r["Type"] == kind}


def _load_balancer_group(app: Synthesized) -> dict[str, Any] | None:
    groups = [
        r["Properties"]
        for r in _resources(app, "AWS::EC2::SecurityGroup").values()
        if "API load balancer" in r["Properties"]["GroupDescription"]
    ]
    assert len(groups) <= 1
    return groups[0] if groups else None


def test_the_default_sources_of_an_internal_load_balancer_are_the_vpcs_literal_cidr(
    internal_default_app: Synthesized,
) -> None:
    """cdk-nag's EC23 threw on the deploy-time CidrBlock attribute; the VPC's block is now a literal it can judge."""
    (vpc,) = _resources(internal_default_app, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == CLUSTER_VPC_CIDR
    group = _load_balancer_group(internal_default_app)
    assert group is not None
    assert [(r["CidrIp"], r["FromPort"]) for r in group["SecurityGroupIngress"]] == [(CLUSTER_VPC_CIDR, 80)]


@pytest.mark.parametrize("name", ALL_APPS)
def test_the_load_balancer_reaches_only_the_api_ports(apps: dict[str, Synthesized], name: str) -> None:
    app = apps[name]
    plan = plan_endpoints(load_config(app.config_path).config)
    group = _load_balancer_group(app)
    if plan is None:
        assert group is None
        return
    assert group is not None
    egress = sorted((r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group["SecurityGroupEgress"])
    assert egress == [(CLUSTER_VPC_CIDR, "tcp", port, port) for port in sorted({a.port for a in plan.apis})]


def _pod_identity_roles(app: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        k: r["Properties"]
        for k, r in _resources(app, "AWS::IAM::Role").items()
        if "pods.eks.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    }


def _associations(app: Synthesized) -> dict[str, tuple[str, str]]:
    """Every Pod Identity association of the cluster stack: role logical id -> (namespace, service account)."""
    found = {
        r["Properties"]["RoleArn"]["Fn::GetAtt"][0]: (r["Properties"]["Namespace"], r["Properties"]["ServiceAccount"])
        for r in _resources(app, "AWS::EKS::PodIdentityAssociation").values()
    }
    for addon in _resources(app, "AWS::EKS::Addon").values():
        for association in addon["Properties"].get("PodIdentityAssociations", []):
            # The add-ons that take an association create their ServiceAccount in their own namespace.
            namespace = {"amazon-cloudwatch-observability": "amazon-cloudwatch"}[addon["Properties"]["AddonName"]]
            found[association["RoleArn"]["Fn::GetAtt"][0]] = (namespace, association["ServiceAccount"])
    return found


@pytest.mark.parametrize("name", ALL_APPS)
def test_every_pod_identity_role_trusts_only_its_cluster_namespace_and_service_account(
    apps: dict[str, Synthesized], name: str
) -> None:
    app = apps[name]
    roles = _pod_identity_roles(app)
    associations = _associations(app)
    assert roles and set(roles) == set(associations)
    (cluster_id,) = _resources(app, "AWS::EKS::Cluster")
    for role_id, role in roles.items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        namespace, service_account = associations[role_id]
        assert statement["Condition"] == {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-arn": {"Fn::GetAtt": [cluster_id, "Arn"]},
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }
        }, role_id


@pytest.mark.parametrize("name", ALL_APPS)
def test_the_keda_operator_reads_no_secrets(apps: dict[str, Synthesized], name: str) -> None:
    charts = [
        r["Properties"]
        for r in _resources(apps[name], "Custom::AWSCDK-EKS-HelmChart").values()
        if r["Properties"]["Chart"] == "keda"
    ]
    for chart in charts:
        assert json.loads(chart["Values"])["permissions"] == {"operator": {"restrict": {"secret": True}}}


@pytest.mark.parametrize("name", ALL_APPS)
def test_the_key_serves_the_logs_service_only_for_this_accounts_log_groups(
    apps: dict[str, Synthesized], name: str
) -> None:
    (key,) = _resources(apps[name], "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    for_logs = [s for s in statements if "logs." in _flatten(s["Principal"].get("Service", ""))]
    (statement,) = for_logs
    context = statement["Condition"]["ArnLike"][LOGS_ENCRYPTION_CONTEXT]
    assert context == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
             ":log-group:*"],
        ]
    } or _flatten(context).endswith(":log-group:*")  # fmt: skip
    assert "*" not in _flatten(context).split(":")[3:5], "region and account are this stack's"


def _policies(app: Synthesized) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["namespace"]: o for o in app.kubernetes_objects() if o["kind"] == "NetworkPolicy"}


def _subnet_cidrs(app: Synthesized, subnet_tag: str) -> list[str]:
    return sorted(
        r["Properties"]["CidrBlock"]
        for r in _resources(app, "AWS::EC2::Subnet").values()
        if {"Key": "aws-cdk:subnet-name", "Value": subnet_tag} in r["Properties"]["Tags"]
    )


@pytest.mark.parametrize("name", ALL_APPS)
def test_network_policies_are_enforced_and_admit_only_what_the_config_allows(
    apps: dict[str, Synthesized], name: str
) -> None:
    app = apps[name]
    (cni,) = [
        r["Properties"]
        for r in _resources(app, "AWS::EKS::Addon").values()
        if r["Properties"]["AddonName"] == "vpc-cni"
    ]
    assert json.loads(cni["ConfigurationValues"]) == {"enableNetworkPolicy": "true"}
    assert cni["ResolveConflicts"] == "OVERWRITE"
    config = load_config(app.config_path).config
    plan = plan_endpoints(config)
    policies = _policies(app)
    for api in config.apis:
        (rule,) = policies[api.name]["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": api.port}]
        namespaces = [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}}
            for n in api.allowed_namespaces or []
        ]
        if plan is not None and plan.api(api.name) is not None:
            subnets = _subnet_cidrs(app, "public" if plan.internet_facing else "nodes")
            assert subnets
            assert rule["from"] == [{"ipBlock": {"cidr": cidr}} for cidr in subnets] + namespaces, api.name
        else:
            assert rule["from"] == (namespaces or [{"namespaceSelector": {}}]), api.name


@pytest.mark.parametrize("name", ALL_APPS)
def test_no_network_policy_limits_egress_so_the_add_ons_keep_working(apps: dict[str, Synthesized], name: str) -> None:
    """DNS, the API server, metrics and the node monitoring agent are reached by egress or from the node, which no
    policy of ours restricts; every policy selects pods by label (never a whole namespace) and limits ingress only."""
    policies = [o for o in apps[name].kubernetes_objects() if o["kind"] == "NetworkPolicy"]
    assert policies
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress"], policy["metadata"]
        assert policy["spec"]["podSelector"]["matchLabels"], policy["metadata"]
        assert policy["metadata"].get("namespace") not in ("amazon-cloudwatch", "keda")
