"""JSON schemas of the custom resources we render, for the kinds kubernetes-validate (core Kubernetes only) lacks.

Written from each CRD's published field reference, strict like kubernetes-validate's strict mode: an unknown field is
an error. Only the fields of the published version we pin; extend a schema when a renderer starts using more.
"""

from __future__ import annotations

from typing import Any

_INT_OR_STRING: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_METADATA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["name", "namespace"],
    "additionalProperties": False,
}

# AWS Load Balancer Controller, elbv2.k8s.aws/v1beta1 TargetGroupBinding (the controller's TargetGroupBinding spec
# reference): spec.targetGroupARN or targetGroupName, targetType, serviceRef, networking.ingress[].from[]/ports[].
TARGET_GROUP_BINDING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": "elbv2.k8s.aws/v1beta1"},
        "kind": {"const": "TargetGroupBinding"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "targetGroupARN": {"type": "string", "minLength": 1},
                "targetGroupName": {"type": "string", "minLength": 1},
                "targetType": {"enum": ["instance", "ip"]},
                "ipAddressType": {"enum": ["ipv4", "ipv6"]},
                "vpcID": {"type": "string"},
                "serviceRef": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1}, "port": _INT_OR_STRING},
                    "required": ["name", "port"],
                    "additionalProperties": False,
                },
                "networking": {
                    "type": "object",
                    "properties": {
                        "ingress": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "from": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "ipBlock": {
                                                    "type": "object",
                                                    "properties": {"cidr": {"type": "string"}},
                                                    "required": ["cidr"],
                                                    "additionalProperties": False,
                                                },
                                                "securityGroup": {
                                                    "type": "object",
                                                    "properties": {"groupID": {"type": "string", "minLength": 1}},
                                                    "required": ["groupID"],
                                                    "additionalProperties": False,
                                                },
                                            },
                                            "additionalProperties": False,
                                        },
                                    },
                                    "ports": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "protocol": {"enum": ["TCP", "UDP"]},
                                                "port": _INT_OR_STRING,
                                            },
                                            "additionalProperties": False,
                                        },
                                    },
                                },
                                "required": ["from", "ports"],
                                "additionalProperties": False,
                            },
                        }
                    },
                    "additionalProperties": False,
                },
            },
            "required": ["serviceRef"],
            "oneOf": [{"required": ["targetGroupARN"]}, {"required": ["targetGroupName"]}],
            "additionalProperties": False,
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding"): TARGET_GROUP_BINDING,
}
