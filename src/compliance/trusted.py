"""Models built from values that are already of their fields' types, without validation.

The engines build tens of thousands of events and findings from values that were
validated once (a record's fields, a rule's wording, exact figures): validating them again
costs more than finding them, and `model_construct` resolves and copies every default on
each call. `trusted(cls, values)` is the instance `cls(**values)` would give for such
values — the defaults (looked up once per class) updated with `values`, each mutable
default a fresh object — for models with no aliases, private attributes, extra fields or
post-init hook (tests/test_trusted.py holds it equal to `cls(**values)`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["trusted"]

M = TypeVar("M", bound=BaseModel)

_MUTABLE = (list, dict, set)
# Per class: every field in order with its default (None for a required one), the fields
# whose default is mutable with that default's type, and for a frozen class its shared
# fields-sets (None for another class).
_Template = tuple[
    dict[str, Any], tuple[tuple[str, type], ...], dict[tuple[str, ...], set[str]] | None
]
_TEMPLATES: dict[type[BaseModel], _Template] = {}
_new = object.__new__
_set = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """`cls(**values)` without validation: `values` must hold every required field, each
    value of its field's type (the caller's promise; nothing is checked)."""
    known = _TEMPLATES.get(cls)
    if known is None:
        known = _TEMPLATES[cls] = _template(cls)
    template, mutable, sets = known
    fields = {**template, **values}
    for name, kind in mutable:
        if name not in values:
            fields[name] = kind()
    instance: M = _new(cls)
    _set(instance, "__dict__", fields)
    if sets is not None:
        key = tuple(values)
        shared = sets.get(key)
        if shared is None:
            shared = set(values)
            if len(sets) < _SHARED_LIMIT:
                sets[key] = shared
    else:
        shared = set(values)
    _set(instance, "__pydantic_fields_set__", shared)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


# Per frozen class, one `__pydantic_fields_set__` per tuple of fields given: a set costs as
# much memory as the instance's values (a third of what the findings of a large log
# hold), and the instances built at one place give the same fields. Only frozen models
# share: pydantic adds to the set in place on assignment, which they refuse, and copies
# it before `model_copy` updates it.
_SHARED_LIMIT = 4096  # fields-sets kept per class


def _template(cls: type[BaseModel]) -> _Template:
    template: dict[str, Any] = {}
    mutable: list[tuple[str, type]] = []
    for name, info in cls.model_fields.items():
        if info.is_required():
            template[name] = None
            continue
        default = info.get_default(call_default_factory=True)
        template[name] = default
        if isinstance(default, _MUTABLE):
            if default:
                raise TypeError(f"{cls.__name__}.{name}: a non-empty mutable default")
            mutable.append((name, type(default)))
    return template, tuple(mutable), {} if cls.model_config.get("frozen") else None
