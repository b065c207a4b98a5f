"""Instance state serialized without its spec (DESIGN §2).

The spec is stored once per process version; an instance keeps `spec_ref` (process key and content hash) instead
of a copy, which the engine research measured at under half the size and ~40% faster to load and save.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

SpecPair = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]


class SpecCache:
    """Parsed specs by spec reference (process key and content hash), shared by every request of this process."""

    def __init__(self) -> None:
        self._specs: dict[str, SpecPair] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> SpecPair | None:
        return self._specs.get(ref)

    def put(self, ref: str, specs: SpecPair) -> None:
        with self._lock:
            self._specs.setdefault(ref, specs)

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()


SPEC_CACHE = SpecCache()


class MissingSpec(LookupError):
    pass


class SpecRefWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["spec_ref"] = workflow.spec_ref
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        specs = SPEC_CACHE.get(dct["spec_ref"])
        if specs is None:
            raise MissingSpec(f"spec {dct['spec_ref']} is not loaded")
        spec, subprocess_specs = specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.spec_ref = dct["spec_ref"]
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpecRefWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Money is Decimal everywhere; form dates stay ISO strings, but policy code may hand back date objects.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    return BpmnWorkflowSerializer(registry)


SERIALIZER = _make_serializer()
SERIALIZER_VERSION: str = SERIALIZER.VERSION


def dump_workflow(workflow: BpmnWorkflow) -> str:
    return str(SERIALIZER.serialize_json(workflow))


def load_workflow_state(state: str) -> BpmnWorkflow:
    return SERIALIZER.deserialize_json(state)


def dump_spec(specs: SpecPair) -> str:
    spec, subprocess_specs = specs
    registry = SERIALIZER.registry
    return json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": {name: registry.convert(sub) for name, sub in subprocess_specs.items()},
        }
    )


def load_spec(serialized: str) -> SpecPair:
    dct = json.loads(serialized)
    registry = SERIALIZER.registry
    return registry.restore(dct["spec"]), {name: registry.restore(sub) for name, sub in dct["subprocess_specs"].items()}


def spec_ref(process_key: str, content_hash: str) -> str:
    return f"{process_key}@{content_hash}"
