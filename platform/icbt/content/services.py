"""Storing and reading module versions (see ``content.models.ModuleVersion``)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from icbt.content.library import Module, module_from_snapshot
from icbt.content.models import ModuleVersion


def snapshot_module(session: Session, module: Module) -> ModuleVersion:
    """The stored row for this exact module version, created on first use."""
    stmt = select(ModuleVersion).where(
        ModuleVersion.module_key == module.id,
        ModuleVersion.lang == module.lang,
        ModuleVersion.version == module.version,
        ModuleVersion.content_hash == module.content_hash,
    )
    row = session.scalar(stmt)
    if row is not None:
        return row
    row = ModuleVersion(module_key=module.id, lang=module.lang, version=module.version,
                        content_hash=module.content_hash, title=module.title, data=module.snapshot())
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another request stored it at the same moment
        row = session.scalar(stmt)
        assert row is not None
    return row



_MODULES: dict[tuple[str, str, int, str], Module] = {}


def module_of(version: ModuleVersion) -> Module:
    """The ``Module`` stored in a version row (parsed once per process)."""
    key = (version.module_key, version.lang, version.version, version.content_hash)
    module = _MODULES.get(key)
    if module is None:
        module = module_from_snapshot(version.data)
        module = Module(**{**module.__dict__, "content_hash": version.content_hash})
        if len(_MODULES) > 1024:
            _MODULES.clear()
        _MODULES[key] = module
    return module
