"""Create, load and save the engine state of one instance."""

from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from workflows.engine.deployment import specs_for
from workflows.engine.scripting import make_script_engine
from workflows.engine.serializer import SERIALIZER_VERSION, MissingSpec, dump_workflow, load_workflow_state, spec_ref
from workflows.models import ProcessInstance, ProcessVersion


def new_workflow(version: ProcessVersion) -> BpmnWorkflow:
    spec, subprocess_specs = specs_for(version)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=make_script_engine())
    workflow.spec_ref = spec_ref(version.process_key, version.content_hash)
    return workflow


def load_workflow(instance: ProcessInstance) -> BpmnWorkflow:
    try:
        workflow = load_workflow_state(instance.state)
    except MissingSpec:
        # The state names its spec; only the first load of a version in this process reads the version row, whose
        # stored spec is the largest column a step would otherwise fetch (issue #9).
        specs_for(instance.process_version)
        workflow = load_workflow_state(instance.state)
    # The script engine is not part of the serialized state; it must be attached after every load.
    workflow.script_engine = make_script_engine()
    return workflow


def store_workflow(instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    instance.state = dump_workflow(workflow)
    instance.serializer_version = SERIALIZER_VERSION
