"""The capacity model (planning/packing.py), the CAP5xx rules built on it, and `plan`'s tables, JSON and prices."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from botocore.retries import standard
from hypothesis import given, settings
from hypothesis import strategies as st

from inferentia_cdk.catalog import INSTANCE_TYPES
from inferentia_cdk.cli.main import EXIT_VALID, main
from inferentia_cdk.cli.plan import SCHEMA_PATH
from inferentia_cdk.config.models import ApiSpec, InferentiaConfig, NodeGroupSpec
from inferentia_cdk.config.problems import RULES
from inferentia_cdk.planning.capacity import NodeGroupCapacity
from inferentia_cdk.planning.cluster_plan import plan_cluster
from inferentia_cdk.planning.loader import load_config, parse_config
from inferentia_cdk.planning.packing import (
    NOTHING,
    Replicas,
    Resources,
    group_load,
    node_offer,
    pack,
    replica_demand,
)
from inferentia_cdk.planning.validation import check_api

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
IMAGE = "public.ecr.aws/example/model:1.0"


def config(groups: list[dict[str, Any]], apis: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"node_groups": groups, "apis": [{"image": IMAGE, **api} for api in apis], **extra}


def codes(data: dict[str, Any]) -> dict[str, tuple[str | int, ...]]:
    """Each CAP code found in ``data`` with the path it was reported at."""
    _, problems = parse_config(data)
    return {p.code: p.path for p in problems if p.code and p.code.startswith("CAP")}


INF2 = {"name": "inf2", "instance_types": ["inf2.xlarge"], "min_size": 0, "desired_size": 2, "max_size": 2}


def api(name: str, low: int, high: int, **compute: str) -> dict[str, Any]:
    return {
        "name": name,
        "node_group": "inf2",
        "compute": {"inf": 1, "cpu": "1", "mem": "2Gi", **compute},
        "autoscaling": {"min_replicas": low, "max_replicas": high, "metric": "cpu"},
    }


# --- the rules ----------------------------------------------------------------------------------------------------


def test_rule_codes_are_registered_with_their_severity() -> None:
    assert {code: RULES[code].severity for code in ("CAP004", "CAP005", "CAP006", "CAP503", "CAP504")} == {
        "CAP004": "error",
        "CAP005": "warning",
        "CAP006": "error",
        "CAP503": "warning",
        "CAP504": "note",
    }


def test_min_replicas_of_several_apis_that_cannot_fit_max_size_are_an_error() -> None:
    found = codes(config([INF2], [api("a", 1, 1), api("b", 2, 2)]))
    assert found == {"CAP006": ("node_groups", 0, "max_size")}
    assert codes(config([INF2], [api("a", 1, 1), api("b", 1, 1)])) == {}


def test_a_config_whose_minimum_cannot_fit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config([INF2], [api("a", 2, 2), api("b", 1, 1)])))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out=out, err=err) == 2
    assert err.getvalue().rstrip().endswith("[CAP006]")


def test_packing_counts_cpu_and_memory_not_only_chips() -> None:
    # One inf2.24xlarge: 6 chips, 96 vCPUs. Six 1-chip replicas fit by chips, but at 20 CPUs each only four do.
    group = {"name": "inf2", "instance_types": ["inf2.24xlarge"], "desired_size": 1, "max_size": 1}
    cpu_bound = [{**api("a", 3, 3, cpu="20"), "node_group": "inf2"}, {**api("b", 3, 3, cpu="20")}]
    assert codes(config([group], cpu_bound)) == {"CAP006": ("node_groups", 0, "max_size")}
    chip_bound = [{**api("a", 3, 3, cpu="10")}, {**api("b", 3, 3, cpu="10")}]
    assert codes(config([group], chip_bound)) == {}


def test_max_replicas_that_do_not_fit_are_a_warning_naming_group_nodes_and_max_size() -> None:
    data = config([INF2], [api("a", 1, 3), api("b", 1, 2)])
    _, problems = parse_config(data)
    (warning,) = [p for p in problems if p.code == "CAP503"]
    assert warning.path == ("node_groups", 0, "max_size") and warning.severity == "warning"
    assert "'inf2'" in warning.message and "need 5 inf2.xlarge nodes" in warning.message
    assert "max_size is 2" in warning.message and "Insufficient aws.amazon.com/neuron" in warning.message
    assert "CAP503" not in codes(config([{**INF2, "max_size": 5}], [api("a", 1, 3), api("b", 1, 2)]))


def test_full_example_gets_the_inf2_spot_warning() -> None:
    loaded = load_config(EXAMPLES / "full.yaml")
    (warning,) = [w for w in loaded.warnings if w.code == "CAP503"]
    assert warning.path == ("node_groups", 1, "max_size")
    assert "'inf2-spot'" in warning.message and "need 7 inf2.xlarge nodes" in warning.message
    assert "max_size is 4" in warning.message
    # Every problem carries a code now: inferentia.yaml's one warning is inf1's legacy driver, none is about capacity.
    # The bundled example's one warning (inf1's legacy driver) is acknowledged, with its reason.
    default = load_config(EXAMPLES / "inferentia.yaml")
    assert default.warnings == () and [a.problem.code for a in default.acknowledged] == ["NG006"]


def test_a_group_that_starts_short_gets_a_note_with_cluster_autoscalers_delay() -> None:
    short = {**INF2, "desired_size": 1}
    _, problems = parse_config(config([short], [api("a", 2, 2)]))
    (note,) = [p for p in problems if p.code == "CAP504"]
    assert (note.path, note.severity) == (("node_groups", 0, "desired_size"), "note")
    assert "Pending until Cluster Autoscaler adds 1 node(s), a few minutes later" in note.message
    assert "desired_size to 2" in note.message
    _, problems = parse_config(config([short], [api("a", 2, 2)], cluster={"cluster_autoscaler": False}))
    (note,) = [p for p in problems if p.code == "CAP504"]
    assert "cluster.cluster_autoscaler is false" in note.message
    assert "CAP504" not in codes(config([INF2], [api("a", 2, 2)]))


def test_notes_print_in_validate_without_counting_as_warnings(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config([{**INF2, "desired_size": 0}], [api("a", 1, 1)])))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out=out, err=err) == EXIT_VALID
    assert "node_groups[0].desired_size: note: " in err.getvalue()
    assert out.getvalue().strip().endswith("(1 node group, 1 API, 0 warnings, 1 note)")


def test_the_construct_path_runs_the_same_capacity_rules() -> None:
    spec = ApiSpec(name="a", node_group="g", image=IMAGE, autoscaling={"min_replicas": 3, "max_replicas": 5})
    group = NodeGroupSpec(name="g", instance_types=["inf2.xlarge"], desired_size=1, max_size=4)
    found = {p.code: p for p in check_api(spec, group, ("apis", "a"))}
    assert set(found) == {"CAP503", "CAP504"}
    assert found["CAP503"].path == ("node_group", "max_size")
    small = group.model_copy(update={"max_size": 2, "desired_size": 2})
    assert [p.code for p in check_api(spec, small) if p.severity == "error"] == ["CAP004"]


# --- the packing agrees with the scheduler ----------------------------------------------------------------------


def test_first_fit_decreasing_places_large_replicas_first() -> None:
    offer = node_offer(INSTANCE_TYPES["inf2.24xlarge"])  # 6 chips
    big, small = Resources(4, 0, 1000.0, 1024.0, 1), Resources(1, 0, 1000.0, 1024.0, 1)
    # In config order (small first) a first-fit would open 3 nodes: 4 small, then 2 big alone. Largest first: 2.
    packing = pack([Replicas("s", small, 4), Replicas("b", big, 2)], offer, INSTANCE_TYPES["inf2.24xlarge"])
    assert [dict(n.replicas) for n in packing.nodes] == [{"b": 1, "s": 2}, {"b": 1, "s": 2}]


def test_packing_agrees_with_the_scheduler_on_the_bundled_examples() -> None:
    """How the fixture was worked out, per node group (no cluster here; kube-scheduler's rules applied by hand):

    - Placement: an API's pods tolerate only the Neuron taint and select ``node-group=<its group>``
      (manifests/api.py), so they land on their own group's nodes; nothing else but the tolerate-all DaemonSets does.
    - NodeResourcesFit: a pod fits a node when the node's allocatable less its pods' requests covers every request.
      inf1.xlarge (1 chip, 4 vCPUs, 8 GiB): image-classifier asks 1 chip, 1 CPU, 4Gi; allocatable after
      kube-reserved (80m, 673Mi), eviction (100Mi) and the DaemonSets (~0.7 CPU, ~0.4 GiB with Container Insights)
      is ~3.2 CPUs and ~6.4 GiB, so one replica per node (chips), 1 node at min_replicas 1, 4 at max_replicas 4.
      inf1.6xlarge (4 chips, 24 vCPUs, 48 GiB): bert-large asks 2 chips, 4 CPUs, 12Gi: two per node (chips); 1 and 2
      replicas both fit one node. inf2.xlarge (1 chip, 4 vCPUs, 16 GiB): resnet50 (1 chip, 2 CPUs, 8Gi) and
      text-embedder (1 chip, 2 CPUs, 4Gi) take the only chip: one pod per node; 3 pods at min load need 3 nodes,
      7 at full load need 7 and max_size 4 holds 4, so 3 pods report "Insufficient aws.amazon.com/neuron".
    - Cluster Autoscaler sizes the group by simulating the same filter, largest pod first (binpacking estimator).
    """
    expected = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "fixtures" / "expected_placement.yaml").read_text()
    )
    for example, groups in expected.items():
        plan = plan_cluster(load_config(ROOT / example).config)
        for group in plan.groups:
            assert group.load is not None
            for load, want in groups[group.spec.name].items():
                packing = group.load.at_min if load == "min" else group.load.at_max
                within = group.nodes(load)
                nodes = [dict(node.replicas) for node in packing.nodes[:within]]
                pending = sum(sum(node.replicas.values()) for node in packing.nodes[within:])
                if "nodes" in want:
                    assert nodes == want["nodes"], (example, group.spec.name, load)
                else:
                    assert [sum(n.values()) for n in nodes] == want["pods_per_node"], (example, group.spec.name)
                assert pending == want["pending"], (example, group.spec.name, load)


def test_one_model_gives_validate_and_plan_the_same_replicas_per_node() -> None:
    data = yaml.safe_load((EXAMPLES / "full.yaml").read_text())
    spec = InferentiaConfig.model_validate(data)
    plan = plan_cluster(spec)
    for row in plan.apis:
        group = NodeGroupCapacity.of(spec.node_group(row.spec.node_group))  # type: ignore[arg-type]
        alone = group_load(group, [row.spec], group.instance_types[0])
        assert row.replicas_per_node == alone.per_node(row.spec.name)
        assert replica_demand(row.spec, group.family).chips == row.spec.compute.inf


# --- plan: tables, JSON, docs ------------------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("example", ["inferentia.yaml", "full.yaml"])
def test_plan_json_follows_its_schema(example: str) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    code, out, _ = run("plan", str(EXAMPLES / example), "--json")
    assert code == EXIT_VALID
    document = json.loads(out)
    jsonschema.Draft202012Validator(schema).validate(document)
    del document["node_groups"][0]["loads"]["full"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)


def test_plan_json_of_full_example_adds_the_cluster_up() -> None:
    _, out, _ = run("plan", str(EXAMPLES / "full.yaml"), "--json")
    document = json.loads(out)
    inf2 = {g["name"]: g for g in document["node_groups"]}["inf2-spot"]
    assert [inf2["loads"][load]["nodes"] for load in ("deploy", "min", "full", "max_size")] == [0, 3, 4, 4]
    assert inf2["nodes_needed_at_full_load"] == 7
    assert inf2["pending_at_full_load"] == {"resnet50": 1, "text-embedder": 2}
    # Spot: only the on-demand cap is known (4 x inf2.xlarge at full load), never a guessed spot price.
    assert inf2["loads"]["full"]["usd_per_hour"] == {"low": None, "high": round(4 * 0.7582, 4)}
    assert inf2["loads"]["full"]["vcpus"] == 16 and inf2["quota"]["code"] == "L-B5D1601B"
    inf1 = {g["name"]: g for g in document["node_groups"]}["inf1-large"]
    assert inf1["loads"]["full"]["usd_per_hour"] == {"low": 1.18, "high": 1.18}
    assert {f["item"] for f in document["fixed_costs"]} == {
        "EKS control plane",
        "system nodes",
        "NAT gateways",
        "load balancer",
        "public IPv4 addresses",
    }
    assert all(f["price"]["source"] and f["price"]["as_of"] for f in document["fixed_costs"])
    assert document["addons"]["keda"] and document["addons"]["load_balancer_controller"]
    bert = {a["name"]: a for a in document["apis"]}["bert-large"]
    assert bert["url"] == "https://api.example.com/bert-large/" and bert["startup_budget_seconds"] == 600


def test_getting_started_shows_what_plan_prints_for_the_full_example(monkeypatch: pytest.MonkeyPatch) -> None:
    page = (ROOT / "docs" / "getting-started.md").read_text()
    monkeypatch.chdir(ROOT)
    _, out, _ = run("plan", "examples/full.yaml")
    shown = page.split("$ inferentia-cdk plan examples/full.yaml\n", 1)[1].split("```", 1)[0]
    # The page shows the tables and cuts the rest at a line "...".
    head = shown.rstrip().removesuffix("...")
    assert len(head.splitlines()) > 40 and out.startswith(head)


def test_validate_does_not_load_the_table_library() -> None:
    probe = (
        "import sys; from inferentia_cdk.cli.main import main; "
        f"main(['validate', {str(EXAMPLES / 'full.yaml')!r}], out=open('/dev/null', 'w'), err=open('/dev/null', 'w')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prettytable', 'wcwidth', 'boto3')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


# --- plan --prices live, against a Price List endpoint on 127.0.0.1 -------------------------------------------------


def product(instance_type: str, usd: str) -> str:
    return json.dumps(
        {
            "product": {"attributes": {"instanceType": instance_type, "regionCode": "eu-west-1"}},
            "terms": {"OnDemand": {"T": {"priceDimensions": {"T.D": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}},
        }
    )


class PriceListServer:
    """Answers GetProducts (JSON 1.1 protocol) with one product per instance type it knows; records the filters."""

    def __init__(self, prices: dict[str, str], status: int = 200) -> None:
        self.calls: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.calls.append(body)
                wanted = {f["Field"]: f["Value"] for f in body.get("Filters", [])}.get("instanceType", "")
                if status != 200:
                    payload: dict[str, Any] = {"__type": "AccessDeniedException", "message": "no"}
                else:
                    listed = [product(wanted, prices[wanted])] if wanted in prices else []
                    payload = {"FormatVersion": "aws_v1", "PriceList": listed}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> PriceListServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    yield monkeypatch


def test_live_prices_come_from_the_price_list_api_for_the_region(local_aws: pytest.MonkeyPatch) -> None:
    with PriceListServer({"inf2.xlarge": "0.9000000000", "inf1.6xlarge": "1.5000000000"}) as server:
        local_aws.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        code, out, err = run("plan", str(EXAMPLES / "full.yaml"), "--json", "--prices", "live", "--region", "eu-west-1")
    assert code == EXIT_VALID, err
    document = json.loads(out)
    assert document["prices"] == "live eu-west-1"
    groups = {g["name"]: g for g in document["node_groups"]}
    assert groups["inf1-large"]["loads"]["full"]["usd_per_hour"] == {"low": 1.5, "high": 1.5}
    assert groups["inf2-spot"]["loads"]["full"]["usd_per_hour"] == {"low": None, "high": 3.6}
    # m6i.large is not priced by this server: shown as not priced, never the catalog's us-east-1 figure.
    system = {f["item"]: f for f in document["fixed_costs"]}["system nodes"]
    assert system["usd_per_hour"] == {"low": None, "high": None}
    filters = {f["Field"]: f["Value"] for f in server.calls[0]["Filters"]}
    assert filters["regionCode"] == "eu-west-1" and filters["operatingSystem"] == "Linux"


def test_live_prices_without_access_exit_1_with_one_line(local_aws: pytest.MonkeyPatch) -> None:
    with PriceListServer({}, status=400) as server:
        local_aws.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        code, out, err = run("plan", str(EXAMPLES / "full.yaml"), "--prices", "live")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "pricing:GetProducts" in err


def test_live_prices_without_credentials_or_network_exit_1(local_aws: pytest.MonkeyPatch) -> None:
    local_aws.delenv("AWS_ACCESS_KEY_ID")
    local_aws.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run("plan", str(EXAMPLES / "full.yaml"), "--prices", "live")
    assert code == 1 and err.startswith("error: could not read prices for us-east-1") and "credentials" in err
    local_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    local_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local_aws.setenv("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:9")  # nothing listens on the discard port
    code, _, err = run("plan", str(EXAMPLES / "full.yaml"), "--prices", "live")
    assert code == 1 and "could not be reached" in err and "Traceback" not in err


@pytest.mark.parametrize("region", ["not a region", "us-east-1\nforged.yaml:1: x: y"])
def test_live_prices_with_a_bad_region_are_bad_input(local_aws: pytest.MonkeyPatch, region: str) -> None:
    code, out, err = run("plan", str(EXAMPLES / "full.yaml"), "--prices", "live", "--region", region)
    assert (code, out) == (2, "") and err.count("\n") == 1 and "is not an AWS region name" in err


def test_live_prices_need_a_region(local_aws: pytest.MonkeyPatch) -> None:
    code, _, err = run("plan", str(EXAMPLES / "inferentia.yaml"), "--prices", "live")
    assert code == 2 and "needs a region" in err


# --- packing in bulk is first-fit decreasing, pod by pod -------------------------------------------------------------


def _pod_by_pod(
    groups: list[Replicas], offer: Resources, running: list[dict[str, int]] | None = None
) -> list[dict[str, int]]:
    """First-fit decreasing one pod at a time, in Cluster Autoscaler's order, after the pods of ``running`` (by API,
    demands as in ``groups``): the reference for :func:`pack`."""
    demand_of = {g.api: g.demand for g in groups}
    nodes = [dict(node) for node in running or []]
    free = [offer - sum((demand_of[a].times(n) for a, n in node.items()), NOTHING) for node in nodes]
    pods = [(g.api, g.demand) for g in groups for _ in range(g.count)]
    pods.sort(
        key=lambda pod: (
            pod[1].cpu_millicores / offer.cpu_millicores + pod[1].memory_mib / offer.memory_mib,
            pod[1].chips / offer.chips,
        ),
        reverse=True,
    )
    for api, demand in pods:
        index = next((i for i, room in enumerate(free) if room.covers(demand)), None)
        if index is None:
            free.append(offer)
            nodes.append({})
            index = len(free) - 1
        free[index] -= demand
        nodes[index][api] = nodes[index].get(api, 0) + 1
    return nodes


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.integers(100, 40_000), st.integers(100, 200_000), st.integers(0, 9)),
        min_size=1,
        max_size=4,
    )
)
def test_bulk_packing_is_first_fit_decreasing_pod_by_pod(shapes: list[tuple[int, int, int, int]]) -> None:
    instance_type = INSTANCE_TYPES["inf2.48xlarge"]
    offer = node_offer(instance_type)
    groups = [
        Replicas(f"api{i}", Resources(chips, 0, float(cpu), float(mem), 1), count)
        for i, (chips, cpu, mem, count) in enumerate(shapes)
    ]
    fitting = [g for g in groups if offer.covers(g.demand)]
    assert [dict(n.replicas) for n in pack(groups, offer, instance_type).nodes] == _pod_by_pod(fitting, offer)


_SHAPES = st.lists(
    st.tuples(st.integers(1, 6), st.integers(100, 40_000), st.integers(100, 200_000), st.integers(0, 9)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(_SHAPES, st.lists(st.integers(0, 9), min_size=8, max_size=8))
def test_packing_on_top_of_running_replicas_is_first_fit_decreasing_pod_by_pod(
    shapes: list[tuple[int, int, int, int]], extra: list[int]
) -> None:
    """Full load on top of minimum load, as group_load packs it: nodes closed to every later replica are skipped, and
    the placements stay those of first-fit one pod at a time."""
    instance_type = INSTANCE_TYPES["inf2.48xlarge"]
    offer = node_offer(instance_type)
    demands = [Resources(chips, 0, float(cpu), float(mem), 1) for chips, cpu, mem, _ in shapes]
    at_min = [Replicas(f"api{i}", d, shape[3]) for i, (d, shape) in enumerate(zip(demands, shapes, strict=True))]
    above = [Replicas(f"api{i}", d, extra[i]) for i, d in enumerate(demands)]
    running = pack(at_min, offer, instance_type)
    fitting = [g for g in above if offer.covers(g.demand)]
    expected = _pod_by_pod(fitting, offer, [dict(n.replicas) for n in running.nodes])
    assert [dict(n.replicas) for n in pack(above, offer, instance_type, running=running).nodes] == expected


def test_huge_max_replicas_are_planned_at_once_and_counted_exactly() -> None:
    group = {"name": "inf2", "instance_types": ["inf2.48xlarge"], "desired_size": 1, "max_size": 2_000_000}
    data = config([group], [{**api("a", 1, 20_000_000, cpu="100m", mem="100Mi")}])
    started = time.perf_counter()
    plan = plan_cluster(InferentiaConfig.model_validate(data))
    assert time.perf_counter() - started < 2
    (row,) = plan.apis
    # 12 chips per inf2.48xlarge: every node past the first 1,000 listed ones is counted, not listed.
    assert plan.groups[0].nodes_needed_at_full == -(-20_000_000 // 12) == row.nodes("full")
    assert plan.groups[0].chips("full") == (20_000_000, 4)
    assert codes(data) == {}
