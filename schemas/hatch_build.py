"""Compiles the C line builder (care_exchange_standard/tables/_line_builder.c) into the wheel.

It builds a CSV line's record in a quarter less time than the Python function builder.py
writes, which makes a record read and judged about a tenth cheaper. Without a C compiler the
part installs without it, after a warning, and reads CSV with the Python builder it falls back
on; so does `CARE_EXCHANGE_PURE_PYTHON=1`. An editable install builds it beside its source,
where the checkout's package is imported from.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "care_exchange_standard.tables._line_builder"
SOURCE = Path("care_exchange_standard", "tables", "_line_builder.c")


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Hatchling's hook for the wheel target (pyproject.toml: `hooks.custom`)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("CARE_EXCHANGE_PURE_PYTHON"):
            return
        root = Path(self.root)
        self._temp = tempfile.mkdtemp(prefix="care-exchange-build-")
        try:
            built = _compile(root / SOURCE, Path(self._temp))
        except Exception as error:  # any compiler failure means: pure Python
            print(
                f"warning: the C line builder was not compiled ({error}); "
                "CSV files are read with the slower Python builder",
                file=sys.stderr,
            )
            return
        target = SOURCE.with_name(built.name)
        if version == "editable":
            shutil.copy2(built, root / target)
            return
        build_data["force_include"][str(built)] = target.as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_temp", None):
            shutil.rmtree(self._temp, ignore_errors=True)


def _compile(source: Path, folder: Path) -> Path:
    """The extension module built by setuptools' build_ext into `folder`."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    extension = Extension(MODULE, [str(source)], py_limited_api=False)
    command = build_ext(
        Distribution({"name": "care-exchange-standard", "ext_modules": [extension]})
    )
    command.build_lib = str(folder / "lib")
    command.build_temp = str(folder / "temp")
    command.ensure_finalized()
    command.run()
    (output,) = command.get_outputs()
    return Path(output)
