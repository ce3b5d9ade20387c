"""Strict offline validation of the ServiceMonitor in rendered manifests.

kubernetes-validate knows the built-in kinds only; the Prometheus
Operator's ServiceMonitor is a custom resource. This checks it against the
operator's own models (the PyPI package cloudcoil-models-prometheus-operator,
generated from the operator's CRDs): types and required fields through the
models, and, as `kubernetes-validate --strict` does for built-in kinds, no
key the CRD does not define.

Usage: python validate_servicemonitor.py RENDERED.yaml...  (exit 1 on a problem)
"""

import sys
import typing

import pydantic
import yaml
from cloudcoil.models.prometheus_operator import v1

KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"): v1.ServiceMonitor}


def models_in(annotation):
    """Every pydantic model class inside a type annotation (Optional, List...)."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    found = []
    for argument in typing.get_args(annotation):
        found.extend(models_in(argument))
    return found


def unknown_keys(model, value, path):
    """Paths of keys in `value` that `model` (recursively) does not define."""
    if isinstance(value, list):
        return [key for index, item in enumerate(value) for key in unknown_keys(model, item, f"{path}[{index}]")]
    if not isinstance(value, dict):
        return []
    fields = {}
    for name, field in model.model_fields.items():
        fields[field.alias or name] = field
        fields[name] = field
    problems = []
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            problems.append(f"{path}.{key}")
            continue
        for inner in models_in(field.annotation):
            problems.extend(unknown_keys(inner, item, f"{path}.{key}"))
            break
    return problems


def main(paths):
    checked = 0
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as file:
            documents = [document for document in yaml.safe_load_all(file) if document]
        for document in documents:
            model = KINDS.get((document.get("apiVersion"), document.get("kind")))
            if model is None:
                continue
            name = f"{path}: {document['kind']}/{document['metadata']['name']}"
            try:
                model.model_validate(document)
            except pydantic.ValidationError as error:
                print(f"ERROR {name}: {error}")
                failed = True
                continue
            extra = [key for key in unknown_keys(model, document, "") if not key.startswith(".metadata.")]
            if extra:
                print(f"ERROR {name}: keys the CRD does not define: {', '.join(extra)}")
                failed = True
                continue
            print(f"INFO {name} passed against the Prometheus Operator's CRD models")
            checked += 1
    if checked == 0 and not failed:
        print("ERROR no ServiceMonitor found in " + ", ".join(paths))
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
