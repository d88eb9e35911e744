"""NeuronClusterFacts: one value for what an API must agree with about its cluster (pure, no CDK)."""

from __future__ import annotations

import pytest
from synth_support import EXAMPLES

from inferentia_cdk import ConfigError, NeuronClusterFacts, NodeGroupSpec
from inferentia_cdk.planning.loader import load_config
from inferentia_cdk.planning.validation import check_config

INF2 = NodeGroupSpec(name="inf2", instance_types=["inf2.xlarge"])


def test_facts_of_a_config_are_what_its_cluster_runs() -> None:
    config = load_config(EXAMPLES / "full.yaml").config
    facts = NeuronClusterFacts.of(config)
    assert facts.cluster_name == config.cluster.name
    assert facts.kubernetes_version == config.cluster.kubernetes_version
    assert facts.node_group_names == tuple(g.name for g in config.node_groups)
    assert facts.scheduler_extension is config.device_plugin.scheduler_extension
    # Container Insights runs its own neuron-monitor, so ours is off beside it.
    assert (facts.container_insights, facts.neuron_monitor) == (config.container_insights(), config.neuron_monitor())
    assert facts == NeuronClusterFacts.of(config)


def test_a_list_of_node_groups_is_kept_as_a_tuple() -> None:
    facts = NeuronClusterFacts(cluster_name="ml", kubernetes_version="1.36", node_groups=[INF2])  # type: ignore[arg-type]
    assert facts.node_groups == (INF2,)
    assert facts.node_group("inf2") is INF2 and facts.node_group("inf1") is None


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({"cluster_name": "${Token[TOKEN.1]}"}, ("cluster_name",)),
        ({"cluster_name": 7}, ("cluster_name",)),
        ({"kubernetes_version": 1.36}, ("kubernetes_version",)),
        ({"node_groups": "inf2"}, ("node_groups",)),
        ({"node_groups": ({"name": "inf2"},)}, ("node_groups", 0)),
        ({"scheduler_extension": "false"}, ("scheduler_extension",)),
        ({"container_insights": 1}, ("container_insights",)),
    ],
)
def test_every_field_is_checked_when_the_value_is_made(arguments: dict[str, object], path: tuple[object, ...]) -> None:
    fields = {"cluster_name": "ml", "kubernetes_version": "1.36", "node_groups": (INF2,), **arguments}
    with pytest.raises(ConfigError) as caught:
        NeuronClusterFacts(**fields)  # type: ignore[arg-type]
    assert [(p.code, p.path) for p in caught.value.problems] == [("CLU100", path)]


def test_an_api_on_a_group_the_cluster_lacks_is_api100_naming_the_groups() -> None:
    facts = NeuronClusterFacts(cluster_name="ml", kubernetes_version="1.36", node_groups=(INF2,))
    (problem,) = facts.check_node_group("inf1-large", ("apis", "bert"))
    assert (problem.code, problem.path) == ("API007", ("apis", "bert", "node_group"))
    assert "valid: inf2" in problem.message
    assert facts.check_node_group("inf2") == []


def test_the_config_path_runs_the_same_rule() -> None:
    config = load_config(EXAMPLES / "inferentia.yaml").config
    api = config.apis[0].model_copy(update={"node_group": "inf2"})
    problems = check_config(config.model_copy(update={"apis": [api]}))
    assert [(p.code, p.path) for p in problems if p.severity == "error"] == [("API007", ("apis", 0, "node_group"))]
