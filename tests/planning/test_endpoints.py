"""Endpoints and operator access: one load balancer for the exposed APIs, a URL per API, kubectl for the admins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synth_support import EXAMPLES, Synthesized, _flatten

from inferentia_cdk.catalog import versions
from inferentia_cdk.config.models import ApiSpec
from inferentia_cdk.config.problems import Problem, errors
from inferentia_cdk.planning.endpoints import (
    DEREGISTRATION_DELAY_SECONDS,
    MAX_EXPOSED_APIS,
    MAX_RULE_PRIORITY,
    PRE_STOP_SLEEP_SECONDS,
    TERMINATION_GRACE_PERIOD_SECONDS,
    derived_priority,
    plan_endpoints,
    rule_priorities,
)
from inferentia_cdk.planning.loader import load_config, parse_config

KUBERNETES_RESOURCE = "Custom::AWSCDK-EKS-KubernetesResource"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b5a2f7c-1d9e-4a4b-8c8d-0e2f4a6b8c0d"


def _config(**sections: Any) -> dict[str, Any]:
    """A valid config with two APIs; ``sections`` replace or add top-level sections, ``cluster`` keys merge."""
    data: dict[str, Any] = {
        "cluster": {"region": "us-east-1"},
        "node_groups": [{"name": "inf2", "instance_types": ["inf2.xlarge"], "max_size": 2}],
        "apis": [
            {"name": "bert", "node_group": "inf2", "image": "public.ecr.aws/example/bert:1.0"},
            {"name": "resnet", "node_group": "inf2", "image": "public.ecr.aws/example/resnet:1.0"},
        ],
        "endpoints": {"scheme": "internal"},
    }
    cluster = sections.pop("cluster", {})
    data["cluster"] = {**data["cluster"], **cluster}
    data.update(sections)
    return data


def _problems(data: dict[str, Any]) -> list[Problem]:
    _, problems = parse_config(data)
    return [p for p in problems if p.severity == "error"]


def _only(data: dict[str, Any]) -> Problem:
    (problem,) = _problems(data)
    return problem


# --- config rules ----------------------------------------------------------------------------------------------


def test_the_valid_base_config_has_no_problems() -> None:
    assert _problems(_config()) == []


@pytest.mark.parametrize(
    ("endpoints", "path", "code"),
    [
        ({"scheme": "internet-facing", "allowed_cidrs": ["203.0.113.0/24"]}, "certificate_arn", "EP001"),
        ({"scheme": "internet-facing", "certificate_arn": CERTIFICATE}, "allowed_cidrs", "EP005"),
        ({"allowed_cidrs": ["0.0.0.0/0"]}, "allowed_cidrs[0]", "NET152"),
        ({"allowed_cidrs": ["2001:db8::/32"]}, "allowed_cidrs[0]", "NET151"),
        ({"allowed_cidrs": ["10.0.0.1/16"]}, "allowed_cidrs[0]", "NET150"),
        ({"allowed_cidrs": ["everyone"]}, "allowed_cidrs[0]", "NET150"),
        ({"allowed_cidrs": []}, "allowed_cidrs", "EP006"),
        ({"certificate_arn": "arn:aws:iam::123456789012:server-certificate/x"}, "certificate_arn", "ARN160"),
        ({"certificate_arn": CERTIFICATE.replace("us-east-1", "eu-west-1")}, "certificate_arn", "ARN160"),
        ({"domain_name": "API.example.com"}, "domain_name", "EP008"),
        ({"domain_name": "https://api.example.com"}, "domain_name", "EP008"),
    ],
)
def test_endpoints_rules_name_the_field_the_value_and_what_is_valid(
    endpoints: dict[str, Any], path: str, code: str
) -> None:
    problem = _only(_config(endpoints=endpoints))
    assert (problem.location, problem.code) == (f"endpoints.{path}", code)


def test_any_source_is_accepted_when_said_out_loud() -> None:
    open_to_all = {
        "scheme": "internet-facing",
        "certificate_arn": CERTIFICATE,
        "allowed_cidrs": ["0.0.0.0/0"],
        "allow_any_source": True,
    }
    assert _problems(_config(endpoints=open_to_all)) == []


def test_a_certificate_of_another_account_is_refused() -> None:
    problem = _only(_config(cluster={"account": "210987654321"}, endpoints={"certificate_arn": CERTIFICATE}))
    assert problem.code == "ARN160"
    assert "account 123456789012" in problem.message


def test_endpoints_need_a_region_for_the_access_log_bucket_policy() -> None:
    data = _config()
    del data["cluster"]["region"]
    problem = _only(data)
    assert (problem.location, problem.code) == ("cluster.region", "EP009")


def test_an_endpoint_flag_without_an_endpoints_section_is_an_error() -> None:
    data = _config()
    del data["endpoints"]
    data["apis"][0]["endpoint"] = True
    problem = _only(data)
    assert (problem.location, problem.code) == ("apis[0].endpoint", "EP011")


def test_more_apis_than_one_load_balancer_holds_is_an_error_naming_the_limit() -> None:
    data = _config()
    data["node_groups"][0]["max_size"] = 200
    data["apis"] = [
        {"name": f"api-{i}", "node_group": "inf2", "image": "public.ecr.aws/example/m:1"}
        for i in range(MAX_EXPOSED_APIS + 1)
    ]
    problem = _only(data)
    assert (problem.location, problem.code) == ("endpoints", "EP010")
    assert f"at most {MAX_EXPOSED_APIS}" in problem.message
    data["apis"][0]["endpoint"] = False
    assert _problems(data) == []


def test_names_that_make_one_stack_output_are_refused() -> None:
    data = _config()
    data["apis"][0]["name"], data["apis"][1]["name"] = "bert-large", "bert--large"
    problem = _only(data)
    assert (problem.location, problem.code) == ("apis[1].name", "EP012")
    assert "'bert-large' and 'bert--large' both make the stack output 'BertLargeUrl'" in problem.message
    data["apis"][1]["endpoint"] = False
    assert _problems(data) == []


@pytest.mark.parametrize(
    ("arn", "says"),
    [
        ("arn:aws:sts::123456789012:assumed-role/platform-admin/alice", "session of role 'platform-admin'"),
        ("arn:aws:iam::123456789012:group/admins", "not an IAM role or user ARN"),
        ("platform-admin", "not an IAM role or user ARN"),
    ],
)
def test_admins_must_be_role_or_user_arns(arn: str, says: str) -> None:
    problem = _only(_config(cluster={"admins": [arn]}))
    assert (problem.location, problem.code) == ("cluster.admins[0]", "ARN162")
    assert says in problem.message


def test_a_public_only_endpoint_is_refused_with_the_reason() -> None:
    problem = _only(_config(cluster={"endpoint_access": "public", "public_access_cidrs": ["203.0.113.0/24"]}))
    assert (problem.location, problem.code) == ("cluster.endpoint_access", "OPS003")


def test_admin_role_arns_with_paths_are_accepted_and_duplicates_refused() -> None:
    sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
    assert _problems(_config(cluster={"admins": [sso, "arn:aws:iam::123456789012:user/ops"]})) == []
    assert _only(_config(cluster={"admins": [sso, sso]})).code == "OPS002"


@pytest.mark.parametrize(
    ("cluster", "code"),
    [
        ({"endpoint_access": "public_and_private"}, "OPS005"),
        ({"public_access_cidrs": ["203.0.113.0/24"]}, "OPS004"),
        ({"endpoint_access": "public_and_private", "public_access_cidrs": ["2001:db8::/32"]}, "NET156"),
    ],
)
def test_a_public_api_server_endpoint_needs_explicit_cidrs(cluster: dict[str, Any], code: str) -> None:
    problem = _only(_config(cluster=cluster))
    assert problem.location.startswith("cluster.public_access_cidrs")
    assert problem.code == code


# --- listener rule priorities ----------------------------------------------------------------------------------

_names = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True), unique=True, max_size=60)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(names=_names, new=st.from_regex(r"[a-z][a-z0-9]{0,12}", fullmatch=True))
def test_priorities_depend_on_the_api_alone(names: list[str], new: str) -> None:
    apis = [_api(name) for name in names]
    priorities = rule_priorities(apis)
    assert all(1 <= p <= MAX_RULE_PRIORITY for p in priorities.values())
    # Adding, removing (each in turn) or renaming another API moves no priority.
    if new not in names:
        after = rule_priorities([*apis, _api(new)])
        assert {name: after[name] for name in names} == priorities
    for gone in range(len(apis)):
        rest = apis[:gone] + apis[gone + 1 :]
        assert rule_priorities(rest) == {a.name: priorities[a.name] for a in rest}


def _api(name: str, priority: int | None = None) -> ApiSpec:
    return ApiSpec(name=name, node_group="inf2", image="public.ecr.aws/example/m:1", endpoint_priority=priority)


def _colliding_pair() -> list[str]:
    seen: dict[int, str] = {}
    for i in range(100_000):
        name = f"api-{i}"
        slot = derived_priority(name)
        if slot in seen:
            return [seen[slot], name]
        seen[slot] = name
    raise AssertionError("no collision among 100,000 names")


def _plan_priorities(apis: list[dict[str, Any]]) -> dict[str, int]:
    data = _config()
    data["apis"] = apis
    config, problems = parse_config(data)
    assert config is not None and errors(problems) == []
    plan = plan_endpoints(config)
    assert plan is not None
    return {api.name: api.priority for api in plan.apis}


def test_names_that_derive_one_priority_are_refused_until_one_states_its_own() -> None:
    first, second = _colliding_pair()
    data = _config()
    data["apis"] = [{"name": n, "node_group": "inf2", "image": "public.ecr.aws/example/m:1"} for n in (first, second)]
    problem = _only(data)
    assert (problem.code, problem.location) == ("EP180", "apis[1].name")
    assert "endpoint_priority" in problem.message
    # An explicit priority equal to another API's is refused the same way.
    data["apis"][1]["endpoint_priority"] = derived_priority(first)
    assert (_only(data).code, _only(data).location) == ("EP180", "apis[1].endpoint_priority")


def test_removing_the_first_of_two_colliding_apis_moves_the_second_nowhere() -> None:
    # Deploy 1: both APIs; the second states a priority. Deploy 2: the first is gone. CloudFormation updates rules
    # before it deletes removed ones, so the second's rule must keep its priority (else PriorityInUse, a rollback).
    first, second = _colliding_pair()
    image = "public.ecr.aws/example/m:1"
    before = _plan_priorities(
        [
            {"name": first, "node_group": "inf2", "image": image},
            {"name": second, "node_group": "inf2", "image": image, "endpoint_priority": 7},
        ]
    )
    after = _plan_priorities([{"name": second, "node_group": "inf2", "image": image, "endpoint_priority": 7}])
    assert before == {first: derived_priority(first), second: 7}
    assert after[second] == before[second]
    # And the other way round: removing the second leaves the first where it was.
    assert _plan_priorities([{"name": first, "node_group": "inf2", "image": image}])[first] == before[first]


# --- what the full example synthesizes -------------------------------------------------------------------------


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _api_objects(template: dict[str, Any], api: str) -> list[dict[str, Any]]:
    for resource in _resources(template, KUBERNETES_RESOURCE).values():
        objects: list[dict[str, Any]] = json.loads(_flatten(resource["Properties"]["Manifest"]))
        if any(o["kind"] == "Deployment" and o["metadata"]["name"] == api for o in objects):
            return objects
    raise AssertionError(f"no manifest for {api}")


def _kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


def test_one_https_load_balancer_admits_only_the_allowed_cidrs(full_app: Synthesized) -> None:
    template = full_app.template("Cluster")
    (load_balancer,) = _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert load_balancer["Properties"]["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in load_balancer["Properties"]["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["idle_timeout.timeout_seconds"] == "120"
    (listener,) = _resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    assert listener["Properties"]["Port"] == 443
    assert listener["Properties"]["Protocol"] == "HTTPS"
    assert listener["Properties"]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert listener["Properties"]["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    (group_id,) = [g["Fn::GetAtt"][0] for g in load_balancer["Properties"]["SecurityGroups"]]
    group = template["Resources"][group_id]["Properties"]
    ingress = {(rule["CidrIp"], rule["FromPort"], rule["ToPort"]) for rule in group["SecurityGroupIngress"]}
    assert ingress == {("203.0.113.0/24", 443, 443), ("198.51.100.0/24", 443, 443)}
    # Only the exposed API's port (bert-large: 8080), and only in the VPC.
    (egress,) = group["SecurityGroupEgress"]
    assert (egress["CidrIp"], egress["FromPort"], egress["ToPort"]) == ("10.0.0.0/16", 8080, 8080)


def test_access_logs_go_to_an_encrypted_private_bucket_kept_a_year(full_app: Synthesized) -> None:
    template = full_app.template("Cluster")
    (bucket,) = _resources(template, "AWS::S3::Bucket").values()
    properties = bucket["Properties"]
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365
    assert bucket["DeletionPolicy"] == "Retain"
    (policy,) = _resources(template, "AWS::S3::BucketPolicy").values()
    assert '"aws:SecureTransport": "false"' in json.dumps(policy)


def test_the_load_balancer_controller_is_installed_pinned_from_the_public_gallery(full_app: Synthesized) -> None:
    template = full_app.template("Cluster")
    charts = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "Custom::AWSCDK-EKS-HelmChart"]
    (chart,) = [c for c in charts if c["Chart"] == "aws-load-balancer-controller"]
    assert chart["Version"] == versions.AWS_LOAD_BALANCER_CONTROLLER.removeprefix("v")
    values = json.dumps(chart["Values"])
    assert versions.AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY in values
    assert versions.AWS_LOAD_BALANCER_CONTROLLER in values
    # The built-in release lends only its IAM policy: no value of the chart names it.
    assert versions.AWS_LOAD_BALANCER_CONTROLLER_POLICY_OF not in values
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    granted = json.dumps([p for p in policies if "elasticloadbalancing:RegisterTargets" in json.dumps(p)])
    assert "elasticloadbalancing:DeregisterTargets" in granted and "ec2:DescribeAvailabilityZones" in granted


def test_no_endpoints_means_no_load_balancer_and_no_controller(default_app: Synthesized) -> None:
    cluster = json.dumps(default_app.template("Cluster"))
    assert "AWS::ElasticLoadBalancingV2" not in cluster
    assert "aws-load-balancer-controller" not in cluster
    apis = default_app.template("Apis")
    assert not _resources(apis, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert "Outputs" not in apis
    objects = [
        json.loads(_flatten(r["Properties"]["Manifest"])) for r in _resources(apis, KUBERNETES_RESOURCE).values()
    ]
    assert all(o["kind"] != "TargetGroupBinding" for manifest in objects for o in manifest)


def test_an_exposed_api_gets_a_target_group_a_rule_and_a_url(full_app: Synthesized) -> None:
    apis = full_app.template("Apis")
    (group,) = _resources(apis, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    properties = group["Properties"]
    assert properties["TargetType"] == "ip"
    assert properties["Port"] == 8080
    assert properties["HealthCheckPath"] == "/healthz"
    assert properties["HealthCheckPort"] == "traffic-port"
    attributes = {a["Key"]: a["Value"] for a in properties["TargetGroupAttributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == str(DEREGISTRATION_DELAY_SECONDS)
    (rule,) = _resources(apis, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"] == ["/bert-large", "/bert-large/*"]
    (transform,) = rule["Properties"]["Transforms"]
    (rewrite,) = transform["UrlRewriteConfig"]["Rewrites"]
    assert (rewrite["Regex"], rewrite["Replace"]) == ("^/bert-large/?(.*)$", "/$1")
    assert rule["Properties"]["Priority"] == derived_priority("bert-large")
    assert apis["Outputs"] == {
        "BertLargeUrl": {"Description": "URL of API bert-large", "Value": "https://api.example.com/bert-large/"}
    }


def test_the_prefix_rewrite_maps_paths_as_the_readme_says() -> None:
    import re

    pattern, replace = "^/bert-large/?(.*)$", "/$1"
    for path, seen in [("/bert-large", "/"), ("/bert-large/", "/"), ("/bert-large/predict", "/predict")]:
        assert re.sub(pattern, replace.replace("$1", r"\1"), path) == seen


def test_exposed_pods_are_bound_gated_and_drained(full_app: Synthesized) -> None:
    objects = _api_objects(full_app.template("Apis"), "bert-large")
    binding = _kind(objects, "TargetGroupBinding")
    assert binding["apiVersion"] == "elbv2.k8s.aws/v1beta1"
    assert binding["spec"]["serviceRef"] == {"name": "bert-large", "port": 8080}
    assert binding["spec"]["targetType"] == "ip"
    (ingress,) = binding["spec"]["networking"]["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8080}]
    namespace = _kind(objects, "Namespace")
    assert namespace["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"
    pod = _kind(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}}
    assert PRE_STOP_SLEEP_SECONDS > DEREGISTRATION_DELAY_SECONDS
    assert pod["terminationGracePeriodSeconds"] == TERMINATION_GRACE_PERIOD_SECONDS > PRE_STOP_SLEEP_SECONDS
    # The NetworkPolicy admits the load balancer's (public) subnets on the API port, and nothing else.
    (rule,) = _kind(objects, "NetworkPolicy")["spec"]["ingress"]
    assert rule == {
        "ports": [{"protocol": "TCP", "port": 8080}],
        "from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}, {"ipBlock": {"cidr": "10.0.1.0/24"}}],
    }


def test_an_api_kept_internal_has_no_binding_gate_or_pause(full_app: Synthesized) -> None:
    objects = _api_objects(full_app.template("Apis"), "resnet50")
    assert all(o["kind"] != "TargetGroupBinding" for o in objects)
    assert "elbv2.k8s.aws/pod-readiness-gate-inject" not in _kind(objects, "Namespace")["metadata"]["labels"]
    pod = _kind(objects, "Deployment")["spec"]["template"]["spec"]
    assert "lifecycle" not in pod["containers"][0]
    assert "terminationGracePeriodSeconds" not in pod


def test_admins_get_cluster_admin_access_entries(full_app: Synthesized) -> None:
    template = full_app.template("Cluster")
    entries = [r["Properties"] for r in _resources(template, "AWS::EKS::AccessEntry").values()]
    (admin,) = [e for e in entries if e["PrincipalArn"] == "arn:aws:iam::123456789012:role/platform-admin"]
    (policy,) = admin["AccessPolicies"]
    assert policy["AccessScope"] == {"Type": "cluster"}
    assert _flatten(policy["PolicyArn"]).endswith(":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")


def test_the_public_api_server_endpoint_admits_only_the_configured_cidrs(full_app: Synthesized) -> None:
    template = full_app.template("Cluster")
    (cluster,) = _resources(template, "AWS::EKS::Cluster").values()
    vpc_config = cluster["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPublicAccess"] is True
    assert vpc_config["EndpointPrivateAccess"] is True
    assert vpc_config["PublicAccessCidrs"] == ["203.0.113.0/24"]


def test_outputs_name_the_cluster_and_the_kubeconfig_command(full_app: Synthesized) -> None:
    outputs = full_app.template("Cluster")["Outputs"]
    assert outputs["ClusterName"]["Value"] == "inferentia-full"
    assert outputs["UpdateKubeconfigCommand"]["Value"] == (
        "aws eks update-kubeconfig --name inferentia-full --region us-east-1"
    )
    assert "ApiLoadBalancerDnsName" in outputs


# --- adding or removing an exposed API never touches the cluster stack -----------------------------------------


@pytest.fixture(scope="module")
def with_and_without_an_api(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    import aws_cdk as cdk

    from inferentia_cdk.stacks.app import build_app

    config = load_config(EXAMPLES / "full.yaml").config
    extra = config.apis[0].model_copy(update={"name": "bert-small", "endpoint": None})
    more = config.model_copy(update={"apis": [*config.apis, extra]})
    templates = []
    for variant, name in ((config, "base"), (more, "more")):
        app = cdk.App(outdir=str(tmp_path_factory.mktemp(f"endpoints-{name}")))
        _, cluster_stack, _ = build_app(variant, app=app, nag=False)
        templates.append(app.synth().get_stack_by_name(cluster_stack.stack_name).template)
    return templates[0], templates[1]


def test_adding_or_removing_an_exposed_api_leaves_the_cluster_stack_byte_identical(
    with_and_without_an_api: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base, more = with_and_without_an_api
    assert json.dumps(base, sort_keys=True) == json.dumps(more, sort_keys=True)


def test_readme_curl_example_matches_the_rewrite() -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "endpoints.md").read_text()
    assert "curl https://api.example.com/bert-large/predict" in readme
