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

# KEDA keda.sh/v1alpha1, from the CRDs of the pinned chart (kedacore/charts keda/templates/crds, chart 2.20.2): the
# ScaledObject fields we render and their neighbours, with the CRD's own bounds; the behaviour policies take the bounds
# the HPA (autoscaling/v2) enforces when KEDA passes them on. Trigger metadata is a map of strings.
_INT32_MIN_0: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_SCALING_POLICY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"enum": ["Pods", "Percent"]},
        "value": {"type": "integer", "minimum": 1},
        "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
    },
    "required": ["periodSeconds", "type", "value"],
    "additionalProperties": False,
}
_SCALING_RULES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "policies": {"type": "array", "items": _SCALING_POLICY},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "tolerance": _INT_OR_STRING,
    },
    "additionalProperties": False,
}
SCALED_OBJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string", "minLength": 1},
                        "envSourceContainerName": {"type": "string"},
                    },
                    "required": ["name"],
                    "additionalProperties": False,
                },
                "minReplicaCount": _INT32_MIN_0,
                "maxReplicaCount": {**_INT32_MIN_0, "minimum": 1},
                "idleReplicaCount": _INT32_MIN_0,
                "pollingInterval": {**_INT32_MIN_0, "minimum": 1},
                "cooldownPeriod": _INT32_MIN_0,
                "initialCooldownPeriod": _INT32_MIN_0,
                "advanced": {
                    "type": "object",
                    "properties": {
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {
                                    "type": "object",
                                    "properties": {"scaleUp": _SCALING_RULES, "scaleDown": _SCALING_RULES},
                                    "additionalProperties": False,
                                },
                            },
                            "additionalProperties": False,
                        },
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "minLength": 1},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "authenticationRef": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
                                },
                                "required": ["name"],
                                "additionalProperties": False,
                            },
                        },
                        "required": ["metadata", "type"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

# The same chart's TriggerAuthentication: of its credential sources we render only podIdentity.
TRIGGER_AUTHENTICATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "podIdentity": {
                    "type": "object",
                    "properties": {
                        "provider": {"enum": ["azure-workload", "gcp", "aws", "aws-eks", "none"]},
                        "roleArn": {"type": "string"},
                        "identityOwner": {"enum": ["keda", "workload"]},
                        "identityId": {"type": "string"},
                        "identityTenantId": {"type": "string"},
                        "identityAuthorityHost": {"type": "string"},
                        "externalID": {"type": "string"},
                    },
                    "required": ["provider"],
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding"): TARGET_GROUP_BINDING,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
}


def validate_kubernetes_object(obj: dict[str, Any], kubernetes_version: str) -> None:
    """Strict validation of one rendered object: custom resources against their CRD's fields here, Kubernetes' own
    kinds with kubernetes-validate. Raises jsonschema's or kubernetes-validate's ValidationError."""
    import jsonschema
    import kubernetes_validate

    crd_schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if crd_schema is not None:
        jsonschema.validate(obj, crd_schema)
    else:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
