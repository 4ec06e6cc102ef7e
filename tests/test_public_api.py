"""The public surface is deliberate: a sorted __all__, and no optional dependency on import."""

import subprocess
import sys

import portable


def test_all_is_sorted_and_complete():
    assert portable.__all__ == sorted(portable.__all__)
    for name in portable.__all__:
        assert hasattr(portable, name), name


def test_importing_portable_imports_no_optional_dependency():
    code = ("import sys, portable; heavy = [m for m in ('xgboost', 'sklearn', 'onnx', "
            "'onnxruntime', 'jpmml_evaluator', 'titus', 'pandas') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
