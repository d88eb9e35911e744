"""Cluster Autoscaler and metrics-server: rendered objects (pure), IAM scoped to this cluster, the on/off switch."""

from __future__ import annotations

import itertools
from typing import Any

import kubernetes_validate
import pytest
import yaml
from synth_support import Synthesized

from inferentia_cdk.catalog import versions
from inferentia_cdk.manifests import autoscaler as render_autoscaler

WRITE_ACTIONS = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}


def _render(version: str = "1.36", patterns: tuple[str, ...] = (".*system-group.*",)) -> list[dict[str, Any]]:
    return render_autoscaler.cluster_autoscaler_objects(
        cluster_name="prod", kubernetes_version=version, region="eu-west-1", non_neuron_group_patterns=patterns
    )


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _find(objects, "Deployment", "cluster-autoscaler")["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


# --- rendered objects -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "patterns"), list(itertools.product(versions.KUBERNETES_VERSIONS, [(), (".*a.*",)]))
)
def test_every_object_is_valid_for_the_cluster_version(version: str, patterns: tuple[str, ...]) -> None:
    for obj in _render(version, patterns):
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", versions.KUBERNETES_VERSIONS)
def test_image_is_pinned_to_the_clusters_minor_version(version: str) -> None:
    image = _container(_render(version))["image"]
    assert image == versions.CLUSTER_AUTOSCALER_IMAGES[version]
    assert image.split(":")[-1].startswith(f"v{version}.")


def test_discovers_this_clusters_groups_by_tag_and_prefers_non_neuron_groups() -> None:
    args = _container(_render())["args"]
    assert "--cloud-provider=aws" in args
    assert (
        "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod" in args
    )
    assert "--expander=priority,least-waste" in args
    env = {e["name"]: e["value"] for e in _container(_render())["env"]}
    assert env["AWS_REGION"] == "eu-west-1"


def test_priority_config_map_ranks_non_neuron_groups_above_the_rest() -> None:
    config_map = _find(_render(), "ConfigMap", "cluster-autoscaler-priority-expander")
    priorities = yaml.safe_load(config_map["data"]["priorities"])
    assert priorities == {50: [".*system-group.*"], 10: [".*"]}
    no_other_groups = _find(_render(patterns=()), "ConfigMap", "cluster-autoscaler-priority-expander")
    assert yaml.safe_load(no_other_groups["data"]["priorities"]) == {10: [".*"]}


def test_rbac_lets_it_read_and_update_its_config_maps_only_by_name() -> None:
    role = _find(_render(), "Role", "cluster-autoscaler")
    named = [r for r in role["rules"] if "resourceNames" in r]
    assert named == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["delete", "get", "update", "watch"],
            "resourceNames": ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"],
        }
    ]
    cluster_role = _find(_render(), "ClusterRole", "cluster-autoscaler")
    assert all("*" not in r["verbs"] and "*" not in r["resources"] for r in cluster_role["rules"])
    objects = _render()
    for binding_kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = _find(objects, binding_kind, "cluster-autoscaler")
        assert binding["roleRef"]["kind"] == role_kind
        assert binding["subjects"][0]["name"] == render_autoscaler.SERVICE_ACCOUNT


def test_runs_hardened_on_system_nodes() -> None:
    objects = _render()
    pod = _find(objects, "Deployment", "cluster-autoscaler")["spec"]["template"]["spec"]
    container = _container(objects)
    assert pod["nodeSelector"]["inferentia-cdk/role"] == "system"
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["securityContext"]["runAsNonRoot"] is True
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["runAsUser"] == 65534
    assert container["resources"]["limits"] and container["resources"]["requests"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health-check"
    policy = _find(objects, "NetworkPolicy", "cluster-autoscaler")
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8085}]}]


# --- synthesized: AWS permissions and add-ons -------------------------------------------------------------------------


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def _autoscaler_statements(app: Synthesized) -> list[dict[str, Any]]:
    policies = _resources(app.template("Cluster"), "AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith("ClusterAutoscaler")]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_write_actions_are_conditioned_on_this_clusters_discovery_tags(any_app: Synthesized) -> None:
    cluster_name = any_app.stacks["cluster"].config.cluster.name
    writes = [s for s in _autoscaler_statements(any_app) if _actions(s) & WRITE_ACTIONS]
    assert writes
    for statement in writes:
        assert statement["Resource"] != "*"
        assert statement["Condition"] == {
            "StringEquals": {
                "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
            }
        }
    assert set().union(*(_actions(s) for s in writes)) == WRITE_ACTIONS


def test_only_read_actions_on_any_resource(any_app: Synthesized) -> None:
    for statement in _autoscaler_statements(any_app):
        if statement["Resource"] == "*" and "Condition" not in statement:
            verbs = {action.split(":")[1] for action in _actions(statement)}
            assert all(verb.startswith(("Describe", "Get")) for verb in verbs), statement


def test_describe_nodegroup_is_limited_to_this_cluster(default_app: Synthesized) -> None:
    (statement,) = [s for s in _autoscaler_statements(default_app) if _actions(s) == {"eks:DescribeNodegroup"}]
    joined = "".join(p if isinstance(p, str) else "<token>" for p in statement["Resource"]["Fn::Join"][1])
    assert joined.endswith(":nodegroup/inferentia/*/*")


def test_pod_identity_gives_the_service_account_its_role(default_app: Synthesized) -> None:
    template = default_app.template("Cluster")
    associations = _resources(template, "AWS::EKS::PodIdentityAssociation").values()
    (association,) = [a for a in associations if a["Properties"]["Namespace"] == "kube-system"]
    assert association["Properties"]["ServiceAccount"] == render_autoscaler.SERVICE_ACCOUNT
    addons = {a["Properties"]["AddonName"] for a in _resources(template, "AWS::EKS::Addon").values()}
    assert {"eks-pod-identity-agent", "metrics-server"} <= addons
    deployments = [o for o in default_app.kubernetes_objects() if o["kind"] == "Deployment"]
    assert "cluster-autoscaler" in {d["metadata"]["name"] for d in deployments}


def test_autoscaler_and_metrics_server_can_be_turned_off() -> None:
    """Built without synthesizing: the construct tree shows what the template would hold."""
    import aws_cdk as cdk
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.config.models import ClusterSpec, InferentiaConfig, NodeGroupSpec
    from inferentia_cdk.constructs.cluster_autoscaler import ClusterAutoscaler
    from inferentia_cdk.stacks import InferentiaClusterStack

    def build(on: bool) -> InferentiaClusterStack:
        config = InferentiaConfig(
            cluster=ClusterSpec(name="byo", cluster_autoscaler=on, metrics_server=on),
            node_groups=[NodeGroupSpec(name="g", instance_types=["inf2.xlarge"])],
        )
        return InferentiaClusterStack(cdk.App(), "Byo", config=config)

    def contents(stack: InferentiaClusterStack) -> tuple[int, set[str]]:
        constructs = stack.node.find_all()
        autoscalers = sum(isinstance(c, ClusterAutoscaler) for c in constructs)
        addons = {c.node.id for c in constructs if isinstance(c, eks.Addon)}
        return autoscalers, addons

    on, off = build(True), build(False)
    assert contents(on)[0] == 1 and "MetricsServer" in contents(on)[1]
    assert contents(off)[0] == 0 and "MetricsServer" not in contents(off)[1]
    assert off.neuron_cluster.capacity.cluster_autoscaler is None and off.neuron_cluster.metrics_server is None
