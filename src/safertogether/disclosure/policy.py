"""Disclosure policies as data: a YAML file names the rule and its parameters.

    name: suppress-small-cells
    rule: suppress                 # exact | suppress | round | dp
    parameters: {threshold: 3}
    records: withheld              # as-published | withheld

Policies are checked as a whole when loaded; every problem is reported together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from safertogether.errors import BadRequestError

Rule = Literal["exact", "suppress", "round", "dp"]
RecordsRule = Literal["as-published", "withheld"]

#: The parameters each rule takes, with their defaults (None: required).
RULE_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "exact": {},
    "suppress": {"threshold": 3},
    "round": {"base": 5, "mode": "nearest", "seed": None},
    "dp": {"epsilon": None, "budget": None, "mechanism": "laplace"},
}
DEFAULT_POLICY: Final = "police-uk-as-published"


class PolicyError(BadRequestError):
    """A disclosure policy file that cannot be applied as written."""


@dataclass(frozen=True)
class Policy:
    """A declared disclosure policy (see module docstring)."""

    name: str
    rule: Rule
    parameters: dict[str, Any] = field(default_factory=dict)
    records: RecordsRule = "as-published"
    description: str = ""

    @property
    def exact(self) -> bool:
        return self.rule == "exact"

    def describe(self) -> str:
        """One line for manifests, pages and e-mails."""
        if self.rule == "exact":
            return "figures as counted (no disclosure control)"
        if self.rule == "suppress":
            return (f"counts from 1 to {self.parameters['threshold'] - 1} in an LSOA, month and category are "
                    "hidden, with further cells hidden where a total would reveal them")
        if self.rule == "round":
            how = "at random (unbiased, seeded)" if self.parameters["mode"] == "random" else "to the nearest"
            return f"every LSOA, month and category count is rounded {how} to a multiple of {self.parameters['base']}"
        return (f"every LSOA, month and category count carries Laplace noise for differential privacy "
                f"(epsilon {self.parameters['epsilon']} per release, budget {self.parameters['budget']})")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "rule": self.rule, "parameters": _public_parameters(self),
                "records": self.records, "description": self.describe()}


def _public_parameters(policy: Policy) -> dict[str, Any]:
    # A random-rounding seed is a secret: knowing it narrows each rounded cell down.
    return {k: ("(secret)" if k == "seed" and v is not None else v) for k, v in policy.parameters.items()}


def policy_from_dict(data: Any, where: str = "policy") -> Policy:
    """Check and complete a policy read from YAML; all problems in one error."""
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: a policy is a mapping with name, rule and parameters")
    problems: list[str] = []
    rule = data.get("rule")
    if rule not in RULE_PARAMETERS:
        problems.append(f"rule {rule!r} is not one of {', '.join(RULE_PARAMETERS)}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        problems.append("name is missing")
    given = data.get("parameters") or {}
    if not isinstance(given, dict):
        problems.append("parameters must be a mapping")
        given = {}
    params: dict[str, Any] = {}
    if rule in RULE_PARAMETERS:
        known = RULE_PARAMETERS[rule]
        problems += [f"unknown parameter {k!r} for rule {rule}" for k in given if k not in known]
        params = {**known, **{k: v for k, v in given.items() if k in known}}
        problems += [f"parameter {k!r} is required for rule {rule}"
                     for k, v in params.items() if v is None and k != "seed"]
        problems += _check_values(rule, params)
    records = data.get("records", "as-published")
    if records not in ("as-published", "withheld"):
        problems.append(f"records {records!r} is not as-published or withheld")
    if problems:
        raise PolicyError(f"{where}: " + "; ".join(problems) + ". Fix the file and try again.")
    return Policy(data["name"], rule, params, records, str(data.get("description", "")))


def _check_values(rule: str, params: dict[str, Any]) -> list[str]:
    problems = []
    if rule == "suppress" and not (isinstance(params["threshold"], int) and params["threshold"] >= 2):
        problems.append("threshold must be a whole number of at least 2")
    if rule == "round":
        if not (isinstance(params["base"], int) and params["base"] >= 2):
            problems.append("base must be a whole number of at least 2")
        if params["mode"] not in ("nearest", "random"):
            problems.append("mode must be nearest or random")
        if params["mode"] == "random" and not isinstance(params["seed"], int):
            problems.append("random rounding needs a whole-number seed (keep it secret)")
    if rule == "dp":
        for name in ("epsilon", "budget"):
            value = params[name]
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                problems.append(f"{name} must be a positive number")
        if params["mechanism"] != "laplace":
            problems.append("mechanism must be laplace")
    return problems


def load_policy(path: str | Path | None = None) -> Policy:
    """A policy from a YAML file, a packaged policy's name, or (None) the default."""
    if path is None:
        return default_policy()
    candidate = Path(path)
    if not candidate.exists():
        packaged = packaged_policies()
        if str(path) in packaged:
            return packaged[str(path)]
        raise PolicyError(f"no policy file {str(path)[:200]!r}; give a YAML file or one of: {', '.join(packaged)}")
    try:
        data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{candidate.name}: not readable YAML ({str(exc)[:200]})") from exc
    return policy_from_dict(data, candidate.name)


def packaged_policies() -> dict[str, Policy]:
    """The policies shipped in ``disclosure/policies/``, by name."""
    found = {}
    for item in sorted(resources.files(__package__).joinpath("policies").iterdir(), key=lambda i: i.name):
        if item.name.endswith(".yaml"):
            policy = policy_from_dict(yaml.safe_load(item.read_text(encoding="utf-8")), item.name)
            found[policy.name] = policy
    return found


def default_policy() -> Policy:
    return packaged_policies()[DEFAULT_POLICY]
