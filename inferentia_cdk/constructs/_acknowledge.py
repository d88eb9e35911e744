"""The warnings of a construct: acknowledged by code (the ``acknowledge`` keyword), or shown as CDK annotations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import aws_cdk as cdk
from constructs import Construct

from ..config.models import ACKNOWLEDGEMENT_REASON, acknowledgement_reason_error
from ..config.problems import Acknowledged, Problem, acknowledge, argument_problem
from ..planning.validation import check_acknowledgements

VALID = "None or a mapping of warning codes to reasons, such as {'NG006': 'why it does not apply'}"


def acknowledgement_problems(acknowledgements: object) -> list[Problem]:
    """The problems of a construct's ``acknowledge`` argument: the same rules as the config's ``acknowledge``."""
    if acknowledgements is None:
        return []
    if not isinstance(acknowledgements, Mapping):
        return [argument_problem("acknowledge", acknowledgements, VALID)]
    problems = []
    codes: dict[str, str] = {}
    for code, reason in acknowledgements.items():
        if not isinstance(code, str):
            problems.append(argument_problem(("acknowledge", repr(code)), code, "a rule code such as 'NG006'"))
            continue
        error = acknowledgement_reason_error(reason)
        if error:
            problems.append(ACKNOWLEDGEMENT_REASON.problem(("acknowledge", code), error))
        codes[code] = reason
    return problems + check_acknowledgements(codes)


def report_warnings(
    construct: Construct, warnings: Iterable[Problem], acknowledgements: Mapping[str, str] | None
) -> tuple[tuple[Problem, ...], tuple[Acknowledged, ...]]:
    """Annotate ``construct`` with each warning not acknowledged (id ``inferentia-cdk:<field>``, which
    ``Annotations.acknowledge_warning`` also accepts); returns the shown warnings and the acknowledged ones."""
    shown, acknowledged = acknowledge(warnings, acknowledgements or {})
    for warning in shown:
        cdk.Annotations.of(construct).add_warning_v2(
            f"inferentia-cdk:{warning.path[-1]}", f"{warning.message} [{warning.code}]"
        )
    return tuple(shown), tuple(acknowledged)
