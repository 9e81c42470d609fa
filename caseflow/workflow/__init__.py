"""The declarative workflow engine: definitions, validation, registry, machines."""
from .definition import WorkflowDefinition
from .engine import WorkflowCatalog, catalog_for, get_catalog
from .registry import action, guard
from .validation import DefinitionProblem, WorkflowDefinitionError

__all__ = [
    "DefinitionProblem", "WorkflowCatalog", "WorkflowDefinition", "WorkflowDefinitionError",
    "action", "catalog_for", "get_catalog", "guard",
]
