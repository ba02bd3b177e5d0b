"""Workspaces: folders of cases, annotation versions, model versions and training runs, indexed in SQLite."""

from medview.workspace.workspace import STATUSES, AnnotationVersion, Case, Workspace, read_class

__all__ = ["STATUSES", "AnnotationVersion", "Case", "Workspace", "read_class"]
