"""skend2 estimators as JSON plus tensors, and back; names resolved only if trusted.

The codec behind :func:`skend2.save` and :func:`skend2.load`. ``_Writer`` turns
an estimator into plain JSON (parameters, fitted attributes, the history, the
optimiser's state) and a flat dict of tensors (the weights). Types and
functions are written by name; ``_Reader`` imports a name only when it is
trusted: skend2's, skorch's, ``torch.nn``'s and ``torch.optim``'s, or listed by
the user. Objects are rebuilt by calling a trusted class with the JSON values
its ``get_params`` (or its same-named attributes) gave; nothing is unpickled.
"""

from __future__ import annotations

import importlib
import inspect
import os
import types
import warnings
from collections.abc import Iterable
from typing import IO, Any

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator

__all__ = ["UntrustedTypesError"]

# Where a class or function may come from to be rebuilt without ``trusted=``:
# code that builds objects from plain values and runs nothing else on import.
_TRUSTED_PACKAGES = ("skend2", "skorch")
_TRUSTED_MODULE_PREFIXES = ("torch.nn.", "torch.optim.")
_TRUSTED_NAMES = frozenset({"sklearn.frozen._frozen.FrozenEstimator"})

_PLAIN = (bool, int, float, str)
_ARRAY_KINDS = "biufU"  # bool, integers, floats, unicode strings

File = str | os.PathLike | IO[bytes]
Trusted = Iterable[str | type] | None


class UntrustedTypesError(TypeError):
    """A file names classes or functions that are not trusted."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)
        super().__init__(
            f"The file names types that are not trusted: {self.names}. Nothing was "
            "imported or run. If you trust the file's source and these names, "
            "pass them as load(file, trusted=[...]) (list them with "
            "skend2.get_untrusted_types(file))."
        )


def _corrupt(message: str) -> ValueError:
    return ValueError(f"Not a valid skend2 model file: {message}")


# -- names and trust -----------------------------------------------------------
def _name_of(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _ref(obj: Any, path: str) -> dict[str, str]:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"Cannot save {path}: {obj!r} has no importable name.")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise TypeError(
            f"Cannot save {path}: {qualname} is defined inside a function; define "
            "it at the top level of a module so that it can be found by name."
        )
    return {"module": module, "name": qualname}


def _ref_name(ref: Any, path: str) -> str:
    if (
        not isinstance(ref, dict)
        or not isinstance(ref.get("module"), str)
        or not isinstance(ref.get("name"), str)
    ):
        raise _corrupt(f"a malformed class name at {path}.")
    return f"{ref['module']}.{ref['name']}"


def _trusted_by_default(module: str, name: str) -> bool:
    return (
        module.split(".")[0] in _TRUSTED_PACKAGES
        or (module + ".").startswith(_TRUSTED_MODULE_PREFIXES)
        or f"{module}.{name}" in _TRUSTED_NAMES
    )


def _trusted_names(trusted: Trusted) -> set[str]:
    if trusted is None:
        return set()
    if isinstance(trusted, (bool, str, type)):
        raise TypeError(
            "trusted must be a list of type names or types (as listed by "
            f"skend2.get_untrusted_types); got {trusted!r}."
        )
    return {t if isinstance(t, str) else _name_of(t) for t in trusted}


def _named_types(node: Any) -> Iterable[tuple[str, str]]:
    """Every (module, name) that a JSON document refers to."""
    if isinstance(node, list):
        for item in node:
            yield from _named_types(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("__type__", "__function__", "__object__", "__estimator__"):
                if isinstance(value, dict):
                    yield str(value.get("module")), str(value.get("name"))
            yield from _named_types(value)


def _resolve(ref: dict, path: str, trusted: set[str]) -> Any:
    """Import a trusted class or function by its name, and nothing else."""
    name = _ref_name(ref, path)
    module_name, qualname = ref["module"], ref["name"]
    if not (_trusted_by_default(module_name, qualname) or name in trusted):
        raise UntrustedTypesError([name])
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"Cannot load {path}: {name} cannot be imported here ({exc})."
        ) from exc
    # A name re-exported from elsewhere (``skend2.ensemble.Parallel``) is refused:
    # trust was given to the module that defines it.
    if _name_of(obj) != name:
        raise _corrupt(f"{name} at {path} is not defined under that name.")
    return obj


# -- writing -------------------------------------------------------------------
def _is_skend2_estimator(obj: Any) -> bool:
    # On the class: FrozenEstimator forwards attribute lookups to what it wraps.
    return isinstance(obj, BaseEstimator) and callable(
        getattr(type(obj), "_make_net", None)
    )


def _is_skend2_component(obj: Any) -> bool:
    """A scikit-learn style helper defined in skend2 (not an estimator)."""
    return isinstance(obj, BaseEstimator) and type(obj).__module__.split(".")[0] == (
        "skend2"
    )


def _is_tag(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def _fitted_attributes(obj: Any) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(obj).items()
        if k.endswith("_") and not k.startswith("_") and k != "net_"
    }


def _constructor_params(obj: Any, path: str) -> dict[str, Any]:
    """The arguments that rebuild ``obj``: ``get_params`` or same-named attributes."""
    if isinstance(obj, torch.nn.Module):
        raise TypeError(
            f"Cannot save {path}: a torch module given as an instance cannot be "
            "rebuilt without pickle. Pass its class and its arguments as "
            "module__* parameters (module=MyNet, module__hidden=64)."
        )
    if isinstance(obj, BaseEstimator) and _fitted_attributes(obj):
        raise TypeError(
            f"Cannot save {path}: the fitted {type(obj).__name__} is not a skend2 "
            "estimator; save it with skops.io."
        )
    if callable(getattr(obj, "get_params", None)):
        return dict(obj.get_params(deep=False))
    params = {}
    for name, p in inspect.signature(type(obj)).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(obj, name):
            raise TypeError(
                f"Cannot save {path}: {type(obj).__name__} does not keep its "
                f"constructor argument {name!r} as an attribute, so it cannot be "
                "rebuilt by name."
            )
        params[name] = getattr(obj, name)
    return params


class _Writer:
    """Turns an estimator into JSON, collecting its tensors on the side."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self._ids: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps memoised ids valid

    def _memo(self, obj: Any) -> tuple[int, bool]:
        if id(obj) in self._ids:
            return self._ids[id(obj)], True
        self._ids[id(obj)] = len(self._ids)
        self._alive.append(obj)
        return self._ids[id(obj)], False

    def tensor(self, key: str, tensor: torch.Tensor) -> str:
        while key in self.tensors:
            key += "'"
        # A copy: safetensors refuses tensors that share memory.
        self.tensors[key] = tensor.detach().to("cpu", copy=True).contiguous()
        return key

    def value(self, obj: Any, path: str) -> Any:
        if obj is None or type(obj) in _PLAIN:
            return obj
        if type(obj) is list:
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if type(obj) is tuple:
            return {
                "__tuple__": [self.value(v, f"{path}[{i}]") for i, v in enumerate(obj)]
            }
        if type(obj) is dict:
            if all(type(k) is str and not _is_tag(k) for k in obj):
                return {k: self.value(v, f"{path}.{k}") for k, v in obj.items()}
            return {
                "__dict__": [
                    [self.value(k, path), self.value(v, f"{path}[{k!r}]")]
                    for k, v in obj.items()
                ]
            }
        if isinstance(obj, np.generic) and obj.dtype.kind in _ARRAY_KINDS:
            return {"__scalar__": {"dtype": obj.dtype.str, "value": obj.item()}}
        if isinstance(obj, np.ndarray):
            return {"__ndarray__": self._array(obj, path)}
        if isinstance(obj, torch.Tensor):
            return {"__tensor__": self.tensor(path, obj)}
        if isinstance(obj, torch.device):
            return {"__device__": str(obj)}
        if isinstance(obj, torch.dtype):
            return {"__dtype__": str(obj).removeprefix("torch.")}
        if isinstance(obj, np.random.RandomState):
            return {"__random_state__": self.value(obj.get_state(legacy=True), path)}
        if isinstance(obj, joblib.Memory):  # a distiller's memory: kept as its path
            return None if obj.location is None else str(obj.location)
        if _is_skend2_estimator(obj):
            return self.estimator(obj, path)
        if inspect.isclass(obj):
            return {"__type__": _ref(obj, path)}
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
            return {"__function__": _ref(obj, path)}
        if callable(obj) and not hasattr(obj, "__dict__"):
            raise TypeError(f"Cannot save {path}: {obj!r} cannot be named.")
        ident, seen = self._memo(obj)
        if seen:
            return {"__ref__": ident}
        spec = {**_ref(type(obj), path), "id": ident}
        if _is_skend2_component(obj) and _fitted_attributes(obj):
            # A fitted helper of skend2 (a transfer generator's statistics):
            # its parameters and its fitted attributes, plain values only.
            spec["params"] = self.value(obj.get_params(deep=False), path)
            spec["fitted"] = self.value(_fitted_attributes(obj), path)
            return {"__object__": spec}
        spec["params"] = self.value(_constructor_params(obj, path), path)
        return {"__object__": spec}

    def _array(self, array: np.ndarray, path: str) -> dict:
        kind = array.dtype.kind
        if kind == "O":
            data = []
            for item in array.ravel().tolist():
                if not (item is None or type(item) in _PLAIN):
                    raise TypeError(
                        f"Cannot save {path}: an object array holding "
                        f"{type(item).__name__} values."
                    )
                data.append(item)
        elif kind in _ARRAY_KINDS:
            data = array.ravel().tolist()
        else:
            raise TypeError(f"Cannot save {path}: arrays of dtype {array.dtype}.")
        return {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}

    def estimator(self, est: Any, path: str) -> dict:
        ident, seen = self._memo(est)
        if seen:
            return {"__ref__": ident}
        spec = {**_ref(type(est), path), "id": ident}
        spec["params"] = self.value(est.get_params(deep=False), f"{path}.params")
        net = vars(est).get("net_")
        spec["fitted"] = self.value(_fitted_attributes(est), path) if net else None
        spec["net"] = None if net is None else self.net(net, f"{path}.net_")
        return {"__estimator__": spec}

    def net(self, net: Any, path: str) -> dict:
        spec = {
            "seed": getattr(net, "iterator_train__seed", None),
            "n_members": getattr(net, "iterator_train__n_members", None),
            "member": getattr(net, "iterator_train__member", None),
            "loss_scale": self.value(getattr(net, "loss_scale", 1.0), path),
        }
        for part in ("module", "criterion"):
            prefix = f"{path}.{part}/"
            for name, tensor in getattr(net, part + "_").state_dict().items():
                self.tensor(prefix + name, tensor)
            spec[part] = prefix
        spec["optimizer"] = self.value(net.optimizer_.state_dict(), f"{path}.optimizer")
        spec["history"] = self.value(list(net.history), f"{path}.history")
        return spec


# -- reading -------------------------------------------------------------------
class _Reader:
    """Rebuilds objects from the JSON of a file, resolving only trusted names."""

    def __init__(self, tensors: dict, trusted: set[str], device: Any) -> None:
        self.tensors = tensors
        self.used: set[str] = set()
        self.trusted = trusted
        self.device = device
        self.objects: dict[int, Any] = {}
        self._warned_device = False

    def value(self, node: Any, path: str) -> Any:
        if node is None or type(node) in _PLAIN:
            return node
        if type(node) is list:
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if type(node) is not dict:
            raise _corrupt(f"unexpected JSON at {path}.")
        if len(node) == 1 and _is_tag(tag := next(iter(node))):
            handler = getattr(self, "_" + tag.strip("_"), None)
            if handler is None:
                raise _corrupt(f"unknown entry {tag!r} at {path}.")
            return handler(node[tag], path)
        return {k: self.value(v, f"{path}.{k}") for k, v in node.items()}

    def _tuple(self, node, path):
        return tuple(self.value(node, path))

    def _dict(self, node, path):
        items = self.value(node, path)
        try:
            return {k: v for k, v in items}
        except (TypeError, ValueError) as exc:
            raise _corrupt(f"a malformed mapping at {path}.") from exc

    def _scalar(self, node, path):
        dtype = self._dtype_of(node, path)
        return dtype.type(node.get("value"))

    def _dtype_of(self, node, path, kinds=_ARRAY_KINDS):
        try:
            dtype = np.dtype(str(node["dtype"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise _corrupt(f"a malformed dtype at {path}.") from exc
        if dtype.kind not in kinds:
            raise _corrupt(f"an array of dtype {dtype} at {path}.")
        return dtype

    def _ndarray(self, node, path):
        dtype = self._dtype_of(node, path, _ARRAY_KINDS + "O")
        data, shape = node.get("data"), node.get("shape")
        if not isinstance(data, list) or not isinstance(shape, list):
            raise _corrupt(f"a malformed array at {path}.")
        if any(not (v is None or type(v) in _PLAIN) for v in data):
            raise _corrupt(f"an array with non-scalar items at {path}.")
        try:
            if dtype.kind == "O":
                array = np.empty(len(data), dtype=object)
                array[:] = data
            else:
                array = np.array(data, dtype=dtype)
            return array.reshape([int(s) for s in shape])
        except (TypeError, ValueError, OverflowError) as exc:
            raise _corrupt(f"a malformed array at {path} ({exc}).") from exc

    def _tensor(self, node, path):
        if node not in self.tensors:
            raise _corrupt(f"the tensor {node!r} named at {path} is missing.")
        self.used.add(node)
        return self.tensors[node]

    def _device(self, node, path):
        return torch.device(self.map_device(str(node)))

    def map_device(self, stored: Any) -> Any:
        """The device to load on: ``device=``, or the stored one if usable here."""
        if self.device is not None:
            return self.device
        if str(stored).startswith("cuda") and not torch.cuda.is_available():
            if not self._warned_device:
                warnings.warn(
                    f"The model was saved on {stored!r} but CUDA is not available "
                    "here; loading it on the CPU (pass device= to choose).",
                    UserWarning,
                    stacklevel=4,
                )
                self._warned_device = True
            return "cpu"
        return stored

    def _dtype(self, node, path):
        dtype = getattr(torch, str(node), None)
        if not isinstance(dtype, torch.dtype):
            raise _corrupt(f"unknown torch dtype {node!r} at {path}.")
        return dtype

    def _random_state(self, node, path):
        random_state = np.random.RandomState()
        try:
            random_state.set_state(self.value(node, path))
        except (TypeError, ValueError) as exc:
            raise _corrupt(f"a malformed random state at {path}.") from exc
        return random_state

    def _type(self, node, path):
        obj = _resolve(node, path, self.trusted)
        if not inspect.isclass(obj):
            raise _corrupt(f"{_ref_name(node, path)} at {path} is not a class.")
        return obj

    def _function(self, node, path):
        obj = _resolve(node, path, self.trusted)
        if not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
            raise _corrupt(f"{_ref_name(node, path)} at {path} is not a function.")
        return obj

    def _ref(self, node, path):
        if node not in self.objects:
            raise _corrupt(f"a reference to an unknown object at {path}.")
        return self.objects[node]

    def _build(self, node, path) -> tuple[Any, dict]:
        cls = self._type(node, path)
        params = self.value(node.get("params"), f"{path}.params")
        if not isinstance(params, dict) or not all(type(k) is str for k in params):
            raise _corrupt(f"malformed parameters at {path}.")
        return cls, params

    def _object(self, node, path):
        cls, params = self._build(node, path)
        try:
            obj = cls(**params)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Cannot rebuild {cls.__name__} at {path}: {exc}") from exc
        self.objects[node.get("id")] = obj
        if node.get("fitted") is not None:
            if not (issubclass(cls, BaseEstimator) and _is_skend2_component(obj)):
                raise _corrupt(f"fitted attributes of {cls.__name__} at {path}.")
            self._set_fitted(obj, node["fitted"], path)
        return obj

    def _set_fitted(self, obj: Any, node: Any, path: str) -> None:
        fitted = self.value(node, path) or {}
        if not isinstance(fitted, dict) or not all(type(k) is str for k in fitted):
            raise _corrupt(f"malformed fitted attributes at {path}.")
        for name, attribute in fitted.items():
            valid = name.isidentifier() and name.endswith("_") and name[0] != "_"
            if not valid or name == "net_":
                raise _corrupt(f"a fitted attribute named {name!r} at {path}.")
            setattr(obj, name, attribute)

    def _estimator(self, node, path):
        cls, params = self._build(node, path)
        if not (issubclass(cls, BaseEstimator) and hasattr(cls, "_make_net")):
            raise _corrupt(f"{cls.__name__} at {path} is not a skend2 estimator.")
        if "device" in params:
            params["device"] = self.map_device(params["device"])
        est = cls(**params)
        self.objects[node.get("id")] = est
        try:  # the checks fit makes, so that a loaded model is a valid one
            est._validate_params()
        except (TypeError, ValueError) as exc:
            raise _corrupt(f"invalid parameters at {path}: {exc}") from exc
        self._set_fitted(est, node.get("fitted"), path)
        if node.get("net") is not None:
            from ._rebuild import rebuild_net

            est.net_ = rebuild_net(est, node["net"], self, f"{path}.net_")
        return est

    def load_state(self, module: torch.nn.Module, prefix: Any, path: str) -> None:
        """Load the tensors under ``prefix`` into ``module``, checking every one."""
        if not isinstance(prefix, str):
            raise _corrupt(f"a malformed tensor prefix at {path}.")
        expected = module.state_dict()
        found = {
            k[len(prefix) :]: t for k, t in self.tensors.items() if k.startswith(prefix)
        }
        problems = [f"missing {k}" for k in expected if k not in found]
        problems += [f"unexpected {k}" for k in found if k not in expected]
        problems += [
            f"{k} has shape {tuple(found[k].shape)} and dtype {found[k].dtype}, "
            f"the model needs {tuple(t.shape)} and {t.dtype}"
            for k, t in expected.items()
            if k in found and (found[k].shape != t.shape or found[k].dtype != t.dtype)
        ]
        if problems:
            raise _corrupt(
                f"the weights of {path} do not fit the network the file describes: "
                + "; ".join(problems[:5])
                + ("; ..." if len(problems) > 5 else "")
            )
        module.load_state_dict(found)
        self.used.update(prefix + k for k in found)
