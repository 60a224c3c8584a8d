"""Every public class and function is documented with an example, and the examples run."""

import doctest
import importlib
import inspect
import warnings

import pytest

PUBLIC = {
    "sklstm": [
        "LSTMClassifier",
        "LSTMRegressor",
        "LSTMStepClassifier",
        "LSTMStepRegressor",
        "DivergenceWarning",
    ],
    "sklstm.metrics": ["per_step_scorer"],
    "sklstm.preprocessing": [
        "FromChannelsFirst",
        "PiecewiseAggregate",
        "SequenceScaler",
        "make_windows",
    ],
    "sklstm.datasets": ["load_japanese_vowels", "load_airline"],
    "sklstm.interop": ["to_torch", "load_torch"],
    "sklstm.onnx": ["to_onnx"],
}
# Public constants: documented where they are defined and in the README.
CONSTANTS = {"sklstm": ["SKOPS_TRUSTED_TYPES"]}


def test_public_names_are_the_modules_all():
    for module, names in PUBLIC.items():
        exported = set(importlib.import_module(module).__all__) - {"__version__"}
        assert exported == {*names, *CONSTANTS.get(module, [])}, module


@pytest.mark.parametrize("module, name", [(m, n) for m, names in PUBLIC.items() for n in names])
def test_docstring_has_a_running_example(module, name):
    if module == "sklstm.interop":
        pytest.importorskip("torch")
    if module == "sklstm.onnx":
        pytest.importorskip("onnxruntime")
    obj = getattr(importlib.import_module(module), name)
    doc = inspect.getdoc(obj)
    assert "Examples\n--------" in doc and ">>>" in doc, f"{name} has no example"
    if not (inspect.isclass(obj) and issubclass(obj, Warning)):  # a warning has neither
        if inspect.isclass(obj):
            assert "Attributes\n----------" in doc
        if inspect.signature(obj).parameters:
            assert "Parameters\n----------" in doc
    tests = doctest.DocTestFinder().find(obj, name, module=importlib.import_module(module))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples train for a few epochs
        for test in tests:
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
