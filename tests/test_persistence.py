"""skend2.save / skend2.load and the memory= teacher cache: round trips and attacks."""

import io
import json
import os
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import safetensors.torch
import torch
from joblib import Memory
from sklearn.datasets import load_iris
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skorch.callbacks import LRScheduler
from skorch.dataset import ValidSplit
from torch import nn

import skend2
from skend2 import (
    DeepEnsembleClassifier,
    EnsembleDistiller,
    PriorNetworkDistiller,
    get_untrusted_types,
    load,
    save,
)
from skend2._cache import TeacherCacheWarning
from skend2._codec import UntrustedTypesError, _Writer

NAMES = np.array(["setosa", "versicolor", "virginica"])
FIT_COUNT = {"n": 0}


class CountingEnsemble(DeepEnsembleClassifier):
    """A teacher that counts its fits."""

    def fit(self, X, y):
        FIT_COUNT["n"] += 1
        return super().fit(X, y)


class TinyNet(nn.Module):
    """A user-defined module class (trusted only when named in trusted=)."""

    def __init__(self, n_features=None, n_classes=None, width=8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_classes)
        )

    def forward(self, x):
        return self.body(x)


class Payload:
    """What an attacker pickles: unpickling it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def ensemble(**kwargs):
    params = dict(n_members=2, max_epochs=3, random_state=0)
    return DeepEnsembleClassifier(**{**params, **kwargs})


def make(kind, training):
    if kind == "ensemble":
        return ensemble(training=training)
    teacher = ensemble(training=training)
    cls = PriorNetworkDistiller if kind == "end2" else EnsembleDistiller
    return cls(teacher, max_epochs=3, random_state=0)


def round_trip(model, **load_kwargs):
    buffer = io.BytesIO()
    save(model, buffer)
    buffer.seek(0)
    return load(buffer, **load_kwargs)


def outputs(model, X):
    """Every prediction the model makes, by name."""
    estimator = model[-1] if hasattr(model, "steps") else model
    Xt = model[:-1].transform(X) if hasattr(model, "steps") else X
    out = {"predict": model.predict(X), "proba": model.predict_proba(X)}
    out.update(estimator.predict_uncertainty(Xt))
    for name in ("predict_member_logits", "predict_logits", "predict_concentrations"):
        if hasattr(estimator, name):
            out[name] = getattr(estimator, name)(Xt)
    return out


def assert_same_outputs(a, b, X):
    out_a, out_b = outputs(a, X), outputs(b, X)
    assert out_a.keys() == out_b.keys()
    for name in out_a:
        np.testing.assert_array_equal(out_a[name], out_b[name], err_msg=name)
        assert out_a[name].dtype == out_b[name].dtype, name


def same_params(a, b):
    """Parameters equal as the file writes them (objects by class and arguments)."""
    encode = lambda est: json.dumps(_Writer().value(est.get_params(deep=False), "p"))  # noqa: E731
    return encode(a) == encode(b)


def read_parts(path):
    data = Path(path).read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    return json.loads(header["__metadata__"]["skend2"]), safetensors.torch.load(data)


def write_parts(path, document, tensors):
    data = safetensors.torch.save(tensors, metadata={"skend2": json.dumps(document)})
    Path(path).write_bytes(data)


def root_params(document):
    return document["root"]["__estimator__"]["params"]


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="module")
def fitted_file(data, tmp_path_factory):
    """A saved PriorNetworkDistiller (teacher inside), for the attacks."""
    X, y = data
    path = tmp_path_factory.mktemp("model") / "model.skend2"
    save(make("end2", "fused").fit(X, NAMES[y]), path)
    return path


# -- round trips -------------------------------------------------------------------
@pytest.mark.parametrize("labels", ["int", "str"])
@pytest.mark.parametrize("training", ["fused", "sequential"])
@pytest.mark.parametrize("kind", ["ensemble", "end", "end2"])
def test_round_trip_is_bit_identical(data, kind, training, labels):
    X, y = data
    y = NAMES[y] if labels == "str" else y + 10
    model = make(kind, training).fit(X, y)
    loaded = round_trip(model)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype == model.classes_.dtype
    assert_same_outputs(model, loaded, X)
    assert list(loaded.history_) == list(model.history_)
    assert same_params(loaded, model)
    assert loaded.sample_shape_ == model.sample_shape_
    if kind != "ensemble":
        assert loaded.teacher_.training_ == training
        assert_same_outputs(model.teacher_, loaded.teacher_, X)


@pytest.mark.slow  # importing skops.io (it lists scikit-learn's types) takes seconds
def test_pipeline_round_trip(data, tmp_path):
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), make("end2", "fused")).fit(X, NAMES[y])
    save(model, tmp_path / "pipe.skend2")
    assert get_untrusted_types(tmp_path / "pipe.skend2") == []
    loaded = load(tmp_path / "pipe.skend2")
    assert [name for name, _ in loaded.steps] == [name for name, _ in model.steps]
    np.testing.assert_array_equal(loaded[0].mean_, model[0].mean_)
    assert_same_outputs(model, loaded, X)
    # The scikit-learn part is audited by skops against the same trusted list.
    unsafe = make_pipeline(FunctionTransformer(os.system), model[-1])
    save(unsafe, tmp_path / "unsafe.skend2")
    [name] = get_untrusted_types(tmp_path / "unsafe.skend2")
    assert name.endswith(".system")
    with pytest.raises(UntrustedTypesError, match="system"):
        load(tmp_path / "unsafe.skend2")


def test_dataframe_feature_names_and_unfitted_params(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = ensemble().fit(frame, y)
    loaded = round_trip(model)
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    assert_same_outputs(model, loaded, frame)
    unfitted = PriorNetworkDistiller(ensemble(), annealing=None, lr=np.float64(0.01))
    copy = round_trip(unfitted)
    assert not hasattr(copy, "net_")
    assert same_params(copy, unfitted)
    assert type(copy.lr) is np.float64


def test_callbacks_split_and_random_state_round_trip(data):
    X, y = data
    model = ensemble(
        callbacks=[
            ("lr", LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=2))
        ],
        train_split=ValidSplit(3, stratified=True),
        criterion__label_smoothing=0.1,
        random_state=np.random.RandomState(3),
    ).fit(X, y)
    loaded = round_trip(model)
    assert same_params(loaded, model)
    assert loaded.callbacks[0][1].step_size == 2
    assert "valid_loss" in loaded.history_[-1]
    assert_same_outputs(model, loaded, X)


def test_frozen_teacher_stays_one_object(data):
    X, y = data
    teacher = ensemble().fit(X, y)
    student = EnsembleDistiller(FrozenEstimator(teacher), max_epochs=2, random_state=0)
    loaded = round_trip(student.fit(X, y))
    assert loaded.teacher_ is loaded.teacher.estimator
    assert_same_outputs(student, loaded, X)


@pytest.mark.parametrize("kind", ["ensemble", "end2"])
def test_warm_start_after_load_continues_training(data, kind):
    X, y = data
    model = make(kind, "fused").fit(X, y)
    loaded = round_trip(model)
    before = outputs(loaded, X)["proba"]
    # The teacher is frozen so that both continue from the very same teacher.
    for m in (model, loaded):
        if kind != "ensemble":
            m.set_params(teacher=FrozenEstimator(m.teacher_))
        m.set_params(warm_start=True).fit(X, y)
    assert len(loaded.history_) == len(model.history_) == 6
    assert not np.array_equal(outputs(loaded, X)["proba"], before)
    # The optimizer state was restored: continuing gives the same model.
    assert_same_outputs(model, loaded, X)


def test_load_leaves_the_global_rng_alone(fitted_file):
    state = torch.random.get_rng_state()
    load(fitted_file)
    assert torch.equal(state, torch.random.get_rng_state())


def test_user_module_needs_trust(data, tmp_path):
    X, y = data
    path = tmp_path / "tiny.skend2"
    model = ensemble(module=TinyNet, module__width=4).fit(X, y)
    save(model, path)
    name = f"{TinyNet.__module__}.TinyNet"
    assert get_untrusted_types(path) == [name]
    with pytest.raises(UntrustedTypesError, match="TinyNet"):
        load(path)
    for trusted in ([TinyNet], [name]):
        assert_same_outputs(model, load(path, trusted=trusted), X)


def test_unsavable_objects_get_clear_errors(data):
    X, y = data
    with pytest.raises(TypeError, match="module__"):
        save(ensemble(module=TinyNet(4, 3)), io.BytesIO())
    with pytest.raises(TypeError, match="inside a function"):
        save(ensemble(callbacks=[lambda *a: None]), io.BytesIO())
    with pytest.raises(TypeError, match="skops"):
        save(StandardScaler(), io.BytesIO())


# -- attacks on the file --------------------------------------------------------
@pytest.mark.parametrize(
    "where", ["module class", "object", "function", "spoofed name", "nested name"]
)
def test_untrusted_callable_is_refused_and_never_runs(fitted_file, tmp_path, where):
    document, tensors = read_parts(fitted_file)
    marker = tmp_path / "pwned"
    params = root_params(document)
    system = {"module": "os", "name": "system"}
    if where == "module class":
        params["module"] = {"__type__": system}
        params["module__command"] = f"touch {marker}"
    elif where == "object":
        params["train_split"] = {
            "__object__": {**system, "id": 99, "params": {"command": f"touch {marker}"}}
        }
    elif where == "function":
        params["iterator_train__collate_fn"] = {"__function__": system}
    elif where == "spoofed name":  # imported into a trusted module, defined elsewhere
        params["module"] = {
            "__type__": {"module": "skend2.ensemble", "name": "Parallel"}
        }
    else:  # an attribute chain out of a trusted module
        params["module"] = {
            "__type__": {"module": "skend2._persistence", "name": "os.system"}
        }
    bad = tmp_path / "bad.skend2"
    write_parts(bad, document, tensors)
    if where in ("spoofed name", "nested name"):
        with pytest.raises(ValueError, match="not defined under that name"):
            load(bad)
    else:
        assert get_untrusted_types(bad) == ["os.system"]
        with pytest.raises(UntrustedTypesError, match="os.system"):
            load(bad)
        with pytest.raises(UntrustedTypesError):  # trusting something else: still no
            load(bad, trusted=["posix.system"])
    assert not marker.exists()


def test_pickle_streams_are_never_unpickled(fitted_file, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    stream = pickle.dumps(Payload(marker))
    document, tensors = read_parts(fitted_file)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    # Appended to a valid file.
    appended = tmp_path / "appended.skend2"
    appended.write_bytes(fitted_file.read_bytes() + stream)
    with pytest.raises(ValueError, match="truncated or damaged"):
        load(appended)
    # Stored as one more tensor.
    extra = tmp_path / "extra.skend2"
    payload = torch.frombuffer(bytearray(stream), dtype=torch.uint8)
    write_parts(extra, document, {**tensors, "data.pkl": payload})
    with pytest.raises(ValueError, match="does not use"):
        load(extra)
    # As a JSON entry a pickle-based loader would understand.
    tagged = tmp_path / "tagged.skend2"
    root_params(document)["lr"] = {"__pickle__": stream.hex()}
    write_parts(tagged, document, tensors)
    with pytest.raises(ValueError, match="unknown entry '__pickle__'"):
        load(tagged)
    # A joblib/pickle model file instead of a skend2 one.
    joblib_file = tmp_path / "model.joblib"
    joblib_file.write_bytes(stream)
    with pytest.raises(ValueError, match="not a safetensors file|no skend2 header"):
        load(joblib_file)
    load(fitted_file)  # and a valid file loads without pickle
    assert not marker.exists()


def test_truncated_and_reshaped_files_give_clear_errors(fitted_file, tmp_path):
    data = fitted_file.read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 100, 4):
        truncated = tmp_path / "truncated.skend2"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated|damaged|no skend2 header"):
            load(truncated)
    document, tensors = read_parts(fitted_file)
    # A non-square weight, chosen by name: safetensors returns the tensors in a
    # per-process random order, and a transposed square matrix keeps its shape.
    key = next(
        k
        for k in sorted(tensors)
        if "module/" in k
        and tensors[k].dim() == 2
        and tensors[k].shape[0] != tensors[k].shape[1]
    )
    for change in (lambda t: t.T.contiguous(), lambda t: t.double()):
        write_parts(
            tmp_path / "changed.skend2",
            document,
            {**tensors, key: change(tensors[key])},
        )
        with pytest.raises(ValueError, match="do not fit the network") as info:
            load(tmp_path / "changed.skend2")
        assert key.split("/")[-1] in str(info.value)


def test_newer_format_is_refused_with_the_version_needed(fitted_file, tmp_path):
    document, tensors = read_parts(fitted_file)
    document["format_version"] = 99
    document["versions"]["skend2"] = "7.0"
    write_parts(tmp_path / "new.skend2", document, tensors)
    with pytest.raises(ValueError, match="Upgrade skend2 to 7.0 or later"):
        load(tmp_path / "new.skend2")


def test_cuda_trained_file_loads_on_cpu(fitted_file, data, tmp_path):
    X, _ = data
    document, tensors = read_parts(fitted_file)
    text = json.dumps(document).replace('"device": "cpu"', '"device": "cuda"')
    assert text.count('"device": "cuda"') == 3  # student, teacher param, teacher_
    write_parts(tmp_path / "cuda.skend2", json.loads(text), tensors)
    model = load(tmp_path / "cuda.skend2", device="cpu")
    assert model.device == model.teacher_.device == "cpu"
    assert model.module_.parameters().__next__().device.type == "cpu"
    assert_same_outputs(model, load(fitted_file), X)
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            assert load(tmp_path / "cuda.skend2").device == "cpu"


# -- the memory= teacher cache ---------------------------------------------------
def cached_student(memory):
    teacher = CountingEnsemble(n_members=2, max_epochs=3, random_state=0)
    return PriorNetworkDistiller(teacher, max_epochs=2, memory=memory, random_state=0)


def fit_counting(model, X, y):
    FIT_COUNT["n"] = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    return FIT_COUNT["n"], [w for w in caught if w.category is TeacherCacheWarning]


def entries(tmp_path):
    return sorted((tmp_path / "skend2_teacher_cache").iterdir())


def test_cache_reuses_teacher_without_pickle(data, tmp_path, monkeypatch):
    X, y = data
    first = cached_student(str(tmp_path))
    assert fit_counting(first, X, y) == (1, [])
    [entry] = entries(tmp_path)
    assert sorted(p.name for p in entry.iterdir()) == [
        "logits.npy",
        "meta.json",
        "teacher.skend2",
    ]
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    second = cached_student(Memory(tmp_path, verbose=0))
    assert fit_counting(second, X, y) == (0, [])
    assert_same_outputs(first, second, X)


@pytest.mark.parametrize("tamper", ["logits", "teacher", "pickle beside"])
def test_tampered_cache_entry_is_refitted_never_run(data, tmp_path, tamper):
    X, y = data
    marker = tmp_path / "pwned"
    fit_counting(cached_student(str(tmp_path)), X, y)
    [entry] = entries(tmp_path)
    if tamper == "logits":  # an object array: loading it would unpickle
        bomb = np.array([Payload(marker)], dtype=object)
        np.save(entry / "logits.npy", bomb, allow_pickle=True)
    elif tamper == "teacher":
        document, tensors = read_parts(entry / "teacher.skend2")
        root_params(document)["module"] = {
            "__type__": {"module": "os", "name": "system"}
        }
        write_parts(entry / "teacher.skend2", document, tensors)
    else:  # what joblib's cache would have read
        joblib.dump(Payload(marker), entry / "output.pkl")
    fits, caught = fit_counting(cached_student(str(tmp_path)), X, y)
    assert not marker.exists()
    if tamper == "pickle beside":  # never read: the entry is still good
        assert (fits, caught) == (0, [])
    else:
        assert fits == 1 and len(caught) == 1
        assert "fitting it again" in str(caught[0].message)
        assert fit_counting(cached_student(str(tmp_path)), X, y) == (0, [])


def test_cache_entry_from_another_version_is_not_reused(data, tmp_path, monkeypatch):
    X, y = data
    fit_counting(cached_student(str(tmp_path)), X, y)
    [old] = entries(tmp_path)
    monkeypatch.setattr(skend2, "__version__", "99.0")
    assert fit_counting(cached_student(str(tmp_path)), X, y) == (1, [])
    # An old entry copied under the new key is refused by its meta.json.
    new = next(e for e in entries(tmp_path) if e != old)
    for name in ("meta.json", "teacher.skend2", "logits.npy"):
        (new / name).write_bytes((old / name).read_bytes())
    fits, caught = fit_counting(cached_student(str(tmp_path)), X, y)
    assert fits == 1 and "other versions" in str(caught[0].message)
