"""The old home of the engine setting: :class:`Warehouse` and :func:`open_warehouse` now live in
:mod:`bold_prevention.warehouse.engine`, the only code that opens an engine. This module only re-exports them for
the modules that still import them from here."""

from __future__ import annotations

from ..warehouse.engine import ENGINES, Engine, Warehouse, engine_setting, open_warehouse

__all__ = ["ENGINES", "Engine", "Warehouse", "engine_setting", "open_warehouse"]
