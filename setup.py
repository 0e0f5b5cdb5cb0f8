import sysconfig
from setuptools import setup
setup(cffi_modules=["build_ffi.py:ffibuilder"], options={"bdist_wheel": {"py_limited_api": False if sysconfig.get_config_var("Py_GIL_DISABLED") else "cp39"}})
