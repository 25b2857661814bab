"""The type stubs of gaussmix._core name exactly what the extension exports, with the
same methods, and the Python faces carry docstrings."""

import ast
import inspect
import pathlib

import gaussmix
from gaussmix import _core

STUB = pathlib.Path(_core.__file__).with_name("_core.pyi")


def _stub_names():
    tree = ast.parse(STUB.read_text())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return top, classes


def test_stubs_match_the_extension():
    top, classes = _stub_names()
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert public == top, (public - top, top - public)
    for cls, methods in classes.items():
        if cls == "GaussmixError":
            continue
        have = {n for n in dir(getattr(_core, cls)) if not n.startswith("_")}
        assert methods == have, (cls, have - methods, methods - have)


def test_python_faces_are_documented():
    for obj in (gaussmix.GaussianMixture, gaussmix.BayesianGaussianMixture, gaussmix.select,
                gaussmix.SelectionResult, gaussmix.AnomalyDetector):  # fmt: skip
        assert inspect.getdoc(obj), obj
    for cls in (gaussmix.GaussianMixture, gaussmix.BayesianGaussianMixture):
        for name, fn in vars(cls).items():
            if callable(fn) and not name.startswith("_"):
                assert inspect.getdoc(fn), f"{cls.__name__}.{name}"
