"""Querysets compiled to SQL once per process, for the few queries of a hot page (the learner page's
first view): Django building the SQL of a queryset again on every call (filters, joins,
select_related columns) cost more CPU than the database answering it.

A CompiledQuery is a function of a few integer values (ids, or lists of ids) returning a queryset.
It is compiled once per shape (how many ids each list holds) with stand-in values, and run again
with the real ones in their places; its rows become model instances exactly as the ORM makes them
(its converters, select_related populators and deferred fields).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql.compiler import SQLCompiler

# Stand-ins for the values: negative and large, so no constant of a query (a flag, a state) is one.
_STAND_IN_BASE = -7_340_000_000

M = TypeVar("M", bound=Model)


class ModelRows(Generic[M]):
    """How the ORM makes model instances of a compiled queryset's rows (its columns' converters,
    select_related populators and deferred fields), worked out once instead of for every query."""

    def __init__(self, compiler: SQLCompiler, db: str) -> None:
        info = compiler.klass_info
        assert info is not None
        self.compiler, self.db, self.model = compiler, db, info["model"]
        self.start, self.end = info["select_fields"][0], info["select_fields"][-1] + 1
        self.init_list = [s[0].target.attname for s in compiler.select[self.start : self.end]]
        self.populators = get_related_populators(info, compiler.select, db)  # type: ignore[call-arg]  # stubs of a later Django
        self.converters = compiler.get_converters([s[0] for s in compiler.select[0 : compiler.col_count]])

    def objects(self, rows: Iterable[Sequence[Any]]) -> list[M]:
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        objects: list[M] = []
        for row in rows:
            instance = self.model.from_db(self.db, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, instance)
            objects.append(instance)
        return objects


class _Compiled(Generic[M]):
    def __init__(self, queryset: QuerySet[M], slots: dict[Any, tuple[str, int | None]]) -> None:
        self.db = queryset.db
        self.compiler = queryset.query.get_compiler(using=self.db)
        self.sql, params = self.compiler.as_sql()
        # Each parameter is a value's place (name, index in its list, or None) or a constant of the query.
        self.places: list[tuple[str, int | None] | None] = []
        self.constants: list[Any] = []
        for param in params:
            place = slots.get(param) if isinstance(param, int) and not isinstance(param, bool) else None
            self.places.append(place)
            self.constants.append(None if place else param)
        missing = set(slots.values()) - set(self.places)
        if missing:
            raise ValueError(f"values not found in the compiled query: {sorted(missing, key=str)}")
        self.rows = ModelRows[M](self.compiler, self.db)

    def run(self, values: dict[str, int | Sequence[int]]) -> list[M]:
        params: list[Any] = []
        for place, constant in zip(self.places, self.constants, strict=True):
            if place is None:
                params.append(constant)
            else:
                name, index = place
                value = values[name]
                params.append(value if index is None else value[index])  # type: ignore[index]
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        return self.rows.objects(rows)


class CompiledQuery(Generic[M]):
    """build(**values) -> QuerySet, compiled once per shape of its values (see the module's doc)."""

    def __init__(self, build: Callable[..., QuerySet[M]]) -> None:
        self.build = build
        self._by_shape: dict[tuple, _Compiled[M]] = {}

    def __call__(self, **values: int | Sequence[int]) -> list[M]:
        values = {k: list(v) if not isinstance(v, int) else v for k, v in values.items()}
        shape = tuple(sorted((k, None if isinstance(v, int) else len(v)) for k, v in values.items()))
        if any(size == 0 for _, size in shape):
            return list(self.build(**values))  # an empty IN (…): the ORM knows it matches nothing
        compiled = self._by_shape.get(shape)
        if compiled is None:
            compiled = self._compile(shape)
            self._by_shape[shape] = compiled
        return compiled.run(values)

    def _compile(self, shape: tuple) -> _Compiled[M]:
        stand_ins: dict[str, int | list[int]] = {}
        slots: dict[int, tuple[str, int | None]] = {}
        for name, size in shape:
            if size is None:
                value = _STAND_IN_BASE - len(slots)
                slots[value] = (name, None)
                stand_ins[name] = value
            else:
                stand_ins[name] = []
                for index in range(size):
                    value = _STAND_IN_BASE - len(slots)
                    slots[value] = (name, index)
                    stand_ins[name].append(value)  # type: ignore[union-attr]
        return _Compiled(self.build(**stand_ins), slots)
