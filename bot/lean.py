"""Keep TensorFlow out of the Rasa server when the model does not need it.

Rasa 3.6 imports TensorFlow at start-up even for a pipeline without any TensorFlow component:
``rasa.core.agent`` → ``policies.policy`` → ``featurizers`` → ``rasa.nlu.extractors.extractor`` →
``rasa.utils.train_utils``, whose first lines import ``rasa.utils.tensorflow.callback`` and
``rasa.utils.tensorflow.data_generator``; those two define Keras subclasses at import time. Measured
on this machine (``python -X importtime``): about 1.9 s of the 3.3 s it takes to import Rasa's
agent, and a few hundred MB of memory (docs/performance.md).

Loading any model also imports the training-time config validator, which imports DIET and TED.

Only training (and TensorFlow models such as DIET or TED) uses those modules. ``install(model)``
puts a stand-in for each of them in front of the import system: ``from module import Name`` gets a
placeholder that imports the real module — and TensorFlow — the first time anything calls,
subclasses or inspects it. A model with a TensorFlow component (``model_needs_tensorflow``) is
served exactly as by the ``rasa`` command.

Used by ``bot/serve.py`` (how ``make run`` starts Rasa); it must run before Rasa is imported.
"""
from __future__ import annotations

import importlib
import importlib.abc
import json
import os
import tarfile
import importlib.machinery
import sys
import threading
import types
from typing import Any, Optional

# modules that import TensorFlow but are only used when training (or by TensorFlow models)
DEFERRED = frozenset({
    "rasa.utils.tensorflow.callback",
    "rasa.utils.tensorflow.data_generator",
    # the training-time config validator; loading any model imports it (the train graph is stored
    # in the model) and it imports DIET, TED and the ResponseSelector
    "rasa.graph_components.validators.default_recipe_validator",
})
# components that need TensorFlow at prediction time: with any of them nothing is deferred
TENSORFLOW_COMPONENTS = (
    "diet_classifier", "response_selector", "ted_policy", "unexpected_intent_policy",
    "lm_featurizer", "convert_featurizer", "rasa.utils.tensorflow",
)
_lock = threading.RLock()


class _Deferred(type):
    """Metaclass of the placeholders: using the class in any way swaps in the real one."""

    def real(cls) -> Any:
        return getattr(load_real(cls.__deferred_module__), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, attr: str) -> Any:  # only for names the placeholder itself lacks
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(cls.real(), attr)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.real())

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.real())

    def __repr__(cls) -> str:
        return f"<deferred {cls.__deferred_module__}.{cls.__name__}>"


def Placeholder(module: str, name: str) -> type:
    """A class standing for ``module.name`` (Rasa insists that graph components are classes)."""
    return _Deferred(name, (), {"__deferred_module__": module, "__module__": module})


def load_real(module: str) -> types.ModuleType:
    """Replace the stand-in by the real module (importing TensorFlow) and return it."""
    with _lock:
        current = sys.modules.get(module)
        if current is not None and not getattr(current, "__xieshang_standin__", False):
            return current
        sys.modules.pop(module, None)
        _Finder.loading.add(module)
        try:
            real = importlib.import_module(module)
        finally:
            _Finder.loading.discard(module)
        parent, _, child = module.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, real)
        return real


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__xieshang_standin__ = True

        def __getattr__(attr: str, _name: str = module.__name__) -> Any:
            # ``from module import Name`` gets a placeholder; the module itself is not run yet
            if attr.startswith("_"):
                raise AttributeError(attr)
            return Placeholder(_name, attr)

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]


class _Finder(importlib.abc.MetaPathFinder):
    loading: set = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname in DEFERRED and fullname not in self.loading and "tensorflow" not in sys.modules:
            return importlib.machinery.ModuleSpec(fullname, _Loader())
        return None


def model_needs_tensorflow(model: Optional[str]) -> bool:
    """True if the trained model (a Rasa .tar.gz) has a TensorFlow component, or cannot be read."""
    if not model or not os.path.isfile(model):
        return True
    try:
        with tarfile.open(model, "r:gz") as archive:
            member = next(m for m in archive.getmembers() if m.name.lstrip("/") == "metadata.json")
            metadata = json.load(archive.extractfile(member))  # type: ignore[arg-type]
        uses = [n["uses"] for schema in ("train_schema", "predict_schema")
                for n in metadata[schema]["nodes"].values()]
    except Exception:
        return True
    return any(name in use for use in uses for name in TENSORFLOW_COMPONENTS if use.rsplit(".", 1)[0] not in DEFERRED)


def install(model: Optional[str] = None) -> bool:
    """Defer the modules above unless the model needs TensorFlow; True if they are deferred.

    Idempotent; to have an effect it must run before Rasa is imported.
    """
    if model is not None and model_needs_tensorflow(model):
        return False
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return True


def tensorflow_loaded() -> bool:
    return "tensorflow" in sys.modules
