import sys
import sysconfig

from setuptools import setup

# cffi compiles _native against CPython's stable ABI (a .abi3.so), except on debug and free-threaded
# builds: tag the wheel to match, one cp39-abi3 wheel for every CPython >= 3.9 (python_requires).
ABI3 = not (hasattr(sys, "gettotalrefcount") or sysconfig.get_config_var("Py_GIL_DISABLED"))
setup(cffi_modules=["build_ffi.py:ffibuilder"], options={"bdist_wheel": {"py_limited_api": "cp39" if ABI3 else False}})
