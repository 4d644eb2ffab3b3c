"""The README's tool-loop, structured-output, Agents SDK and media examples, run as written against the emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console import RunningProxy, clean_env
from tests.test_docs import section

EXAMPLES = re.findall(r"```python\n(.*?)```", section("Tools, structured output, images, reasoning"), re.S)


def test_the_section_has_both_examples() -> None:
    assert len(EXAMPLES) == 2
    assert "tool_calls" in EXAMPLES[0] and "parse(" in EXAMPLES[1]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    env = clean_env(PROXY_EMULATOR_TOKEN_DELAY_MS="0")
    with RunningProxy("--emulator", cwd=tmp_path_factory.mktemp("emulator"), env=env) as proxy:
        yield proxy


@pytest.mark.parametrize("index", [0, 1], ids=["tool-loop", "structured-output"])
def test_example_runs(emulator: RunningProxy, tmp_path: Path, index: int) -> None:
    code = EXAMPLES[index].replace("http://127.0.0.1:8787/v1", emulator.url + "/v1")
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    output = result.stdout.strip()
    if index == 0:
        assert "tool result" in output  # the emulator's answer quotes the tool result it was given
    else:
        assert "name=" in output and "population=" in output


def test_the_agents_sdk_example_runs(emulator: RunningProxy, tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", section("Using it with agents"), re.S)
    script = tmp_path / "agent.py"
    script.write_text(code.replace("http://127.0.0.1:8787/v1", emulator.url + "/v1"))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Emulated reply from @cf/openai/gpt-oss-120b to: Say hello")


def test_the_media_example_runs(emulator: RunningProxy, tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", section("Images, audio, rerank, moderation"), re.S)
    script = tmp_path / "media.py"
    script.write_text(code.replace("http://127.0.0.1:8787", emulator.url))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.strip().splitlines())
    assert int(lines["image bytes (base64)"]) > 0 and int(lines["edited"]) > 0
    assert lines["transcript"].startswith(" Emulated transcript") and lines["flagged"].strip() == "True"
    assert lines["best document"].strip() == "1" and (tmp_path / "hello.wav").read_bytes().startswith(b"RIFF")
