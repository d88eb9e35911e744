"""The cluster stack's own configuration: what a bare aws_eks_v2 cluster lacks and ours has by default."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from synth_support import Synthesized

from inferentia_cdk.config.models import InferentiaConfig
from inferentia_cdk.stacks.app import build_app


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _cluster_properties(template: dict[str, Any]) -> dict[str, Any]:
    (cluster,) = _resources(template, "AWS::EKS::Cluster")
    properties: dict[str, Any] = cluster["Properties"]
    return properties


def test_kubernetes_secrets_are_envelope_encrypted_with_a_rotating_key(default_app: Synthesized) -> None:
    template = default_app.template("Cluster")
    (encryption,) = _cluster_properties(template)["EncryptionConfig"]
    assert encryption["Resources"] == ["secrets"]
    key_id = encryption["Provider"]["KeyArn"]["Fn::GetAtt"][0]
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


def test_all_five_control_plane_log_types_are_on(default_app: Synthesized) -> None:
    enabled = _cluster_properties(default_app.template("Cluster"))["Logging"]["ClusterLogging"]["EnabledTypes"]
    assert {t["Type"] for t in enabled} == {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def test_endpoint_is_private_by_default(default_app: Synthesized) -> None:
    vpc_config = _cluster_properties(default_app.template("Cluster"))["ResourcesVpcConfig"]
    assert vpc_config["EndpointPrivateAccess"] is True
    assert vpc_config["EndpointPublicAccess"] is False


def test_vpc_has_flow_logs_to_an_encrypted_log_group_with_retention(default_app: Synthesized) -> None:
    template = Template.from_json(default_app.template("Cluster"))
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"RetentionInDays": 365, "KmsKeyId": Match.object_like({"Fn::GetAtt": Match.any_value()})},
    )


def test_nodes_run_in_private_subnets(default_app: Synthesized) -> None:
    template = default_app.template("Cluster")
    private = {
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::EC2::Subnet" and r["Properties"]["MapPublicIpOnLaunch"] is False
    }
    for nodegroup in _resources(template, "AWS::EKS::Nodegroup"):
        subnets = {s["Ref"] for s in nodegroup["Properties"]["Subnets"]}
        assert subnets and subnets <= private


def test_system_node_group_hosts_the_add_ons(default_app: Synthesized) -> None:
    system = [
        n["Properties"]
        for n in _resources(default_app.template("Cluster"), "AWS::EKS::Nodegroup")
        if n["Properties"].get("Labels", {}).get("inferentia-cdk/role") == "system"
    ]
    assert len(system) == 1
    assert system[0]["AmiType"] == "AL2023_x86_64_STANDARD"
    assert "Taints" not in system[0]


def test_cluster_runs_the_default_kubernetes_version_with_a_kubectl_of_the_same_minor(default_app: Synthesized) -> None:
    from inferentia_cdk.catalog import versions

    template = default_app.template("Cluster")
    assert versions.DEFAULT_KUBERNETES_VERSION == versions.KUBERNETES_VERSIONS[-1] == "1.36"
    assert _cluster_properties(template)["Version"] == "1.36"
    layers = [r["Properties"].get("Description", "") for r in _resources(template, "AWS::Lambda::LayerVersion")]
    # kubectl supports one minor of skew either way; the layer's kubectl must reach every supported version.
    (kubectl,) = [d for d in layers if "/opt/kubectl/kubectl" in d]
    assert " 1.36." in kubectl


def test_every_supported_version_has_an_aws_cdk_lib_version_and_pinned_add_on_images() -> None:
    from inferentia_cdk.catalog import versions
    from inferentia_cdk.constructs.neuron_cluster import KUBERNETES_VERSIONS

    assert tuple(KUBERNETES_VERSIONS) == versions.KUBERNETES_VERSIONS == ("1.35", "1.36")
    for images in (versions.KUBE_SCHEDULER_IMAGES, versions.CLUSTER_AUTOSCALER_IMAGES):
        assert tuple(images) == versions.KUBERNETES_VERSIONS


def test_node_monitoring_agent_is_installed_after_the_system_nodes(default_app: Synthesized) -> None:
    template = default_app.template("Cluster")
    (agent,) = [
        r
        for r in _resources(template, "AWS::EKS::Addon")
        if r["Properties"]["AddonName"] == "eks-node-monitoring-agent"
    ]
    (system_id,) = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::EKS::Nodegroup"
        and r["Properties"].get("Labels", {}).get("inferentia-cdk/role") == "system"
    ]
    assert system_id in agent["DependsOn"]


def test_stacks_are_environment_agnostic_without_account_and_region(default_app: Synthesized) -> None:
    for stack in default_app.stacks.values():
        assert cdk.Token.is_unresolved(stack.account)
        assert cdk.Token.is_unresolved(stack.region)


@pytest.fixture(scope="module")
def public_endpoint_app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A public endpoint and an explicit environment, as a user may ask for, and no APIs."""
    config = InferentiaConfig.model_validate(
        {
            "cluster": {
                "name": "public",
                "endpoint_access": "public_and_private",
                "public_access_cidrs": ["198.51.100.0/24"],
                "account": "123456789012",
                "region": "eu-west-1",
            },
            "node_groups": [{"name": "inf2", "instance_types": ["inf2.xlarge"]}],
            "quota_check": "off",
        }
    )
    outdir = tmp_path_factory.mktemp("public-cdk.out")
    app, cluster_stack, _ = build_app(config, app=cdk.App(outdir=str(outdir)), nag=True)
    app.synth()
    return {"template": Template.from_stack(cluster_stack).to_json(), "stack": cluster_stack, "outdir": outdir}


def test_public_endpoint_and_environment_come_from_the_config(public_endpoint_app: dict[str, Any]) -> None:
    vpc_config = _cluster_properties(public_endpoint_app["template"])["ResourcesVpcConfig"]
    assert vpc_config["EndpointPublicAccess"] is True
    assert vpc_config["PublicAccessCidrs"] == ["198.51.100.0/24"]
    stack = public_endpoint_app["stack"]
    assert (stack.account, stack.region) == ("123456789012", "eu-west-1")


def test_the_default_security_group_is_emptied_without_cdk_json_feature_flags(
    public_endpoint_app: dict[str, Any],
) -> None:
    """public_endpoint_app is built as another app may build the stack: a bare cdk.App, none of cdk.json's flags."""
    Template.from_json(public_endpoint_app["template"]).resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_an_app_without_apis_synthesizes_without_any_finding(public_endpoint_app: dict[str, Any]) -> None:
    """No APIs leaves the APIs stack empty, which aws-cdk-lib's template check would warn about; that is acknowledged
    with its reason, and the explicit environment's ARNs match cdk-nag's acknowledgements, so nothing reaches the
    user."""
    report = json.loads((public_endpoint_app["outdir"] / "validation-report.json").read_text())
    assert [(r["pluginName"], r["violations"]) for r in report["pluginReports"] if r["violations"]] == []
    suppressed = {v["ruleName"] for r in report["pluginReports"] for v in r.get("suppressedViolations", [])}
    assert "F0001" in " ".join(suppressed)
