"""API layer: the template catalog — ``GET /api/v1/templates`` and ``GET /api/v1/templates/{name}``.

Any authenticated caller may read the catalog (it holds no tenant data). The catalog is a dependency
(``catalog``), so tests and deployments can point it at another root with ``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shera.api.deps import PrincipalDep
from shera.steps.templates import Template, TemplateCatalog, UnknownTemplate
from shera.store.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["templates"])


class TemplatePublic(BaseModel):
    """One app template, as ``shera init --template NAME DIR`` scaffolds it."""

    name: str = Field(description="Template name, for `shera init --template NAME`.")
    description: str = Field(description="One line: what the template builds.")
    files: list[str] = Field(description="The files it writes, relative to the app repository's root.")


def catalog() -> TemplateCatalog:
    """The catalog of She-Ra's own templates (``pipelines/templates``)."""
    return TemplateCatalog()


CatalogDep = Annotated[TemplateCatalog, Depends(catalog)]


def _public(template: Template) -> TemplatePublic:
    return TemplatePublic(name=template.name, description=template.description, files=list(template.files))


@router.get("/templates")
def list_templates(templates: CatalogDep, _: PrincipalDep) -> list[TemplatePublic]:
    """Every template, sorted by name."""
    return [_public(template) for template in templates.templates()]


@router.get("/templates/{name}")
def get_template(name: str, templates: CatalogDep, _: PrincipalDep) -> TemplatePublic:
    """One template; 404 when no template has this name."""
    try:
        return _public(templates.get(name))
    except UnknownTemplate as exc:
        raise NotFound(str(exc)) from exc
