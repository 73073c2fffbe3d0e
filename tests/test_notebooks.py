"""Every example notebook runs from top to bottom, against the emulator, in a fresh kernel.

The kernel is ipykernel's own ``python3`` kernel run by this interpreter
(``sys.executable``, the virtualenv's python): no kernelspec is looked up in the
user's or the system's Jupyter directories, none is installed, and the kernel's
files (connection file, IPython directory) stay in the test's temporary directory.
It starts with no ``YC_*`` variables, in a copy of ``examples/`` without ``.env``,
so ``demo_client()`` falls back to the built-in emulator.

``--block-network`` (pytest-recording, in pyproject's addopts) patches
``socket.connect`` of this process only. It does not get in the way: jupyter_client
picks free ports with ``bind``, and the client talks to the kernel over libzmq's own
sockets on 127.0.0.1. The kernel is another process the patch does not reach, so the
same block, with the same allowed hosts, is applied there before any cell runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbformat import NotebookNode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

CELL_TIMEOUT = 120
"""Seconds one cell may run before its notebook fails."""

EXPECTED = {
    "background_runs.ipynb": [
        "  status: completed",
        "Completed: ",
        "Response id: ",
        "Attached; status now: ",
        "Cancelled",
        "Operation: ",
        "Tokens used: ",
    ],
    "batch.ipynb": [
        "Crashed; the journal holds: {'completed'",
        "Resumed 10 of 10 inputs from the journal",
        "10/10 done: completed=10",
        "| Volga | completed |",
        "BadRequestError - Error code: 400",
    ],
}
"""What each notebook must print: a notebook added to examples/ needs its line here."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def kernel_manager(workdir: Path) -> AsyncKernelManager:
    """ipykernel's native kernel on ``sys.executable``, its connection file in ``workdir``."""
    return AsyncKernelManager(
        kernel_name=NATIVE_KERNEL_NAME,
        # no directories to search: only the native kernel, built from this interpreter
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[]),
        connection_file=str(workdir / "kernel-connection.json"),
    )


def kernel_environment(workdir: Path) -> dict[str, str]:
    """The environment minus YC_*/OPENAI_* variables; IPython's files in ``workdir``."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("YC_", "OPENAI_"))
    }
    env["IPYTHONDIR"] = str(workdir / "ipython")
    return env


def block_network_line(allowed_hosts: Iterable[str]) -> str:
    """A line that applies pytest-recording's network block in the kernel, binding no name."""
    hosts = sorted(allowed_hosts)
    return f"__import__('pytest_recording.network').network.block(allowed_hosts={hosts!r})"


def read_notebook(source: Path | str) -> NotebookNode:
    """A notebook from a file, or from its JSON text, as nbformat 4."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    notebook: NotebookNode = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    return notebook


def notebook_of(*sources: str) -> NotebookNode:
    """A notebook made of code cells with these sources."""
    cells: list[dict[str, object]] = [
        {
            "cell_type": "code",
            "id": f"cell-{index}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources)
    ]
    return read_notebook(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )


def cell_output(cell: NotebookNode) -> str:
    """The text of a code cell's outputs: streams, plain-text results, tracebacks."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", "") + "\n")
        elif output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]) + "\n")
    return _ANSI.sub("", "".join(parts))


def shown(notebook: NotebookNode) -> str:
    """Every Markdown or plain-text result the notebook displayed (tables, values)."""
    return "".join(
        output["data"].get("text/markdown", output["data"].get("text/plain", "")) + "\n"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] in ("execute_result", "display_data")
    )


def streams(notebook: NotebookNode, name: str) -> str:
    """Everything the notebook wrote to ``stdout`` or ``stderr``, in order."""
    return "".join(
        output["text"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream" and output["name"] == name
    )


def execute(
    notebook: NotebookNode,
    workdir: Path,
    *,
    label: str,
    blocked_hosts: Iterable[str] | None,
    cell_timeout: float = CELL_TIMEOUT,
) -> NotebookNode:
    """Run every cell of ``notebook`` in a fresh kernel (working directory ``workdir``).

    ``blocked_hosts``: the hosts still reachable when the network is blocked in the
    kernel (``None``: not blocked). A cell that raises or runs past ``cell_timeout``
    seconds fails the test with that cell's source and output.
    """
    started: list[int] = []
    arguments = []
    if blocked_hosts is not None:
        arguments.append(f"--IPKernelApp.exec_lines={block_network_line(blocked_hosts)}")
    client = NotebookClient(
        notebook,
        km=kernel_manager(workdir),
        timeout=cell_timeout,
        shutdown_kernel="immediate",
        extra_arguments=arguments,
        on_cell_execute=lambda cell, cell_index: started.append(cell_index),
    )
    failure = None
    try:
        # cleanup_kc: the kernel is shut down even though the manager was made here
        client.execute(cleanup_kc=True, env=kernel_environment(workdir), cwd=str(workdir))
    except (CellExecutionError, CellTimeoutError) as error:
        index = started[-1]
        cell = notebook.cells[index]
        what = "ran past the timeout" if isinstance(error, CellTimeoutError) else "raised"
        failure = (
            f"{label}: cell {index + 1} of {len(notebook.cells)} {what}.\n"
            f"--- source ---\n{cell.source}\n"
            f"--- output ---\n{cell_output(cell)}"
        )
    if failure is not None:  # outside the except: nbclient's own report would repeat it
        pytest.fail(failure, pytrace=False)
    return notebook


PROBE = ("127.0.0.2", 9)
"""An address the block refuses (not an allowed host) that never leaves the machine if it
does not: a probe of the block that cannot reach the network."""


def network_is_blocked_here() -> bool:
    """Whether this process refuses connections to hosts that are not allowed."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(PROBE)
    except RuntimeError as refused:
        return "Network is disabled" in str(refused)
    except OSError:
        return False
    finally:
        probe.close()
    return False


@pytest.fixture
def kernel_hosts(request: pytest.FixtureRequest) -> list[str] | None:
    """The hosts the kernel may reach: the same as this process's, when the network is blocked."""
    if not request.config.getoption("--block-network"):
        return None
    hosts: list[str] = request.getfixturevalue("allowed_hosts") or []
    return hosts


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of examples/ (data files next to the notebooks, never a .env), for the kernel."""
    target = tmp_path / "examples"
    shutil.copytree(
        EXAMPLES, target, ignore=shutil.ignore_patterns(".env", "__pycache__", ".ipynb_checkpoints")
    )
    return target


def test_every_notebook_is_checked() -> None:
    assert {path.name for path in EXAMPLES.glob("*.ipynb")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_is_committed_valid_and_without_outputs(name: str) -> None:
    notebook = read_notebook(EXAMPLES / name)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: clear the outputs of cell {index + 1}"
            assert cell.execution_count is None, f"{name}: clear the outputs of cell {index + 1}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name: str, workdir: Path, kernel_hosts: list[str] | None) -> None:
    if kernel_hosts is not None:
        assert network_is_blocked_here(), "--block-network is set but this process is not blocked"
    notebook = read_notebook(workdir / name)

    execute(notebook, workdir, label=name, blocked_hosts=kernel_hosts)

    out = streams(notebook, "stdout") + shown(notebook)
    for text in EXPECTED[name]:
        assert text in out, out
    assert "using the built-in emulator" in streams(notebook, "stderr")


def test_a_failing_cell_fails_the_test_with_its_output(
    tmp_path: Path, kernel_hosts: list[str] | None
) -> None:
    if kernel_hosts is None:
        pytest.skip("the network is not blocked in this run (no --block-network)")
    reach_out = f'import socket\nprint("connecting out")\nsocket.create_connection({PROBE!r}, 0.5)'
    notebook = notebook_of('print("first cell")', reach_out)
    with pytest.raises(pytest.fail.Exception) as failed:
        execute(notebook, tmp_path, label="reach_out.ipynb", blocked_hosts=kernel_hosts)

    message = str(failed.value)
    assert message.startswith("reach_out.ipynb: cell 2 of 2 raised."), message
    assert "connecting out" in message  # the failing cell's own output
    assert "first cell" not in message
    # the kernel is blocked like this process: loopback only
    assert f"Network is disabled for host {PROBE[0]!r}" in message, message


def test_a_cell_past_its_timeout_fails_the_test_with_its_output(tmp_path: Path) -> None:
    stuck = 'print("waiting for nothing", flush=True)\nimport time\ntime.sleep(600)'
    notebook = notebook_of(stuck)
    with pytest.raises(pytest.fail.Exception) as failed:
        execute(notebook, tmp_path, label="stuck.ipynb", blocked_hosts=None, cell_timeout=1)

    message = str(failed.value)
    assert message.startswith("stuck.ipynb: cell 1 of 1 ran past the timeout."), message
    assert "waiting for nothing" in message


def test_the_kernel_is_this_interpreter_without_yandex_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YC_API_KEY", "key-not-for-notebooks")
    monkeypatch.setenv("YC_FOLDER_ID", "b1gnotfornotebooks00")

    spec = kernel_manager(tmp_path).kernel_spec
    env = kernel_environment(tmp_path)

    assert spec is not None
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert not [name for name in env if name.startswith("YC_")]
    assert env["IPYTHONDIR"].startswith(str(tmp_path))
