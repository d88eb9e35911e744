"""What the hand-written baseline is given: the benchmark config's settings and Kubernetes objects as plain JSON.

A user writing the same infrastructure by hand writes the same YAML for the device plugin, Cluster Autoscaler and each
API, so the baseline may take those objects from our pure renderers, ready-made, before its timer starts. The two values
that only exist at deploy time (the stack's region and the system node group's name) are left as placeholders the
baseline fills in, as a user's template would. The same goes for the KEDA chart's values and, per API, what its
dashboard shows (the scaling signal's target and replica range). Nothing of our config loading, validation or constructs
runs in the baseline's process.

Usage: python bench/workload.py CONFIG OUT.json

"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from inferentia_cdk.config.models import InferentiaConfig
from inferentia_cdk.constructs.neuron_nodegroup import AMI_TYPES
from inferentia_cdk.manifests.api import render_api
from inferentia_cdk.manifests.autoscaler import cluster_autoscaler_objects
from inferentia_cdk.manifests.device_plugin import neuron_objects
from inferentia_cdk.manifests.node_contract import NEURON_TAINT_KEY, NEURON_TAINT_VALUE, node_labels, node_template_tags
from inferentia_cdk.manifests.objects import SYSTEM_NODE_LABEL, SYSTEM_NODE_VALUE
from inferentia_cdk.manifests.scaling import autoscaler_objects, keda_values
from inferentia_cdk.planning.capacity import NodeGroupCapacity
from inferentia_cdk.planning.loader import load_config
from inferentia_cdk.planning.scaling import needs_keda, signal_of
from inferentia_cdk.quota.service_quotas import needs_of

REGION_PLACEHOLDER = "@@REGION@@"
SYSTEM_NODEGROUP_PLACEHOLDER = "@@SYSTEM_NODEGROUP_NAME@@"


def workload(config: InferentiaConfig) -> dict[str, Any]:
    if config.endpoints is not None or config.cluster.admins or config.quota_check != "deploy":
        raise SystemExit("the baseline covers configs without endpoints or admins, with quota_check: deploy")
    if config.observability.alarm_topic_arn is not None:
        raise SystemExit("the baseline covers configs without an alarm topic")
    cluster = config.cluster
    system = cluster.system_node_group
    groups = {group.name: group for group in config.node_groups}
    return {
        "cluster": {
            "name": cluster.name,
            "kubernetes_version": cluster.kubernetes_version,
            "max_azs": cluster.max_azs,
            "nat_gateways": cluster.nat_gateways,
            "endpoint_access": cluster.endpoint_access,
            "system": {
                "instance_types": system.instance_types,
                "min_size": system.min_size,
                "desired_size": system.desired_size,
                "max_size": system.max_size,
            },
            "cluster_autoscaler": cluster.cluster_autoscaler,
            "metrics_server": cluster.metrics_server,
        },
        "node_groups": [
            {
                "name": group.name,
                "instance_types": group.instance_types,
                "ami_type": AMI_TYPES[group.ami],
                "capacity_type": group.capacity_type,
                "min_size": group.min_size,
                "desired_size": group.desired_size,
                "max_size": group.max_size,
                "disk_size": group.disk_size,
                "labels": node_labels(group.name),
                "taint": {"key": NEURON_TAINT_KEY, "value": NEURON_TAINT_VALUE},
                "node_template_tags": node_template_tags(NodeGroupCapacity.of(group)),
                "node_auto_repair": group.node_auto_repair,
            }
            for group in config.node_groups
        ],
        "device_plugin_objects": neuron_objects(config.deployed_device_plugin(), cluster.kubernetes_version),
        "container_insights": config.container_insights(),
        "keda_values": keda_values({SYSTEM_NODE_LABEL: SYSTEM_NODE_VALUE}) if needs_keda(config) else None,
        "autoscaler_objects": cluster_autoscaler_objects(
            cluster_name=cluster.name,
            kubernetes_version=cluster.kubernetes_version,
            region=REGION_PLACEHOLDER,
            non_neuron_group_patterns=[f".*{SYSTEM_NODEGROUP_PLACEHOLDER}.*"],
        ),
        "quota_needs": [need.to_properties() for need in needs_of(NodeGroupCapacity.of(g) for g in config.node_groups)],
        "quota_shortfall": config.quota_shortfall,
        "dashboards": config.observability.dashboards and config.container_insights(),
        "apis": [
            {
                "name": api.name,
                "objects": render_api(
                    api,
                    groups[api.node_group],
                    scheduler_extension=config.device_plugin.scheduler_extension,
                    autoscaler=autoscaler_objects(api, cluster_name=cluster.name, region=REGION_PLACEHOLDER),
                ),
                "signal": dataclasses.asdict(signal_of(api.autoscaling)),
            }
            for api in config.apis
        ],
    }


def main() -> None:
    config_path, out = sys.argv[1], Path(sys.argv[2])
    out.write_text(json.dumps(workload(load_config(config_path).config)))


if __name__ == "__main__":
    main()
