"""The README's first example, run as a new user would run it: against a real `opsim up`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def first_python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has no Python example"
    return blocks[0]


def test_the_first_example_gets_its_answer(opsim_process, tmp_path: Path):
    script = first_python_example()
    assert "127.0.0.1\", 2121" in script and "http://127.0.0.1:8080" in script, "the example names the defaults"
    script = (script.replace('"127.0.0.1", 2121', f'"127.0.0.1", {opsim_process.ftp_port}')
              .replace("http://127.0.0.1:8080", opsim_process.api.base.removesuffix("/api")))
    (tmp_path / "example.py").write_text(script, encoding="utf-8")
    run = subprocess.run([sys.executable, str(tmp_path / "example.py")], capture_output=True, text=True,
                         timeout=60, cwd=README.parent)
    assert run.returncode == 0, run.stderr
    printed = run.stdout.splitlines()
    assert re.fullmatch(r"\['COVA_DEMO_ARCMD_ACCES_V12_20261124_\d{6}\.csv'\]", printed[0]), run.stdout
    assert any("MYORDER1" in line and ";OK;" in line for line in printed[1:]), run.stdout
