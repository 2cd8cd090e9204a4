"""The shell examples of README and docs/ work: each one runs against a real `cityos demo`,
or the doc says why it is not run (issue #29: a new user's first hour met examples that
answered otherwise than the doc said).

A block is a ```sh fence. Run: in a fresh folder holding the demo's data directory `var`
(where the examples' `--data-dir var` and the commands' default point), with
`http://127.0.0.1:8000` replaced by the server's address and the placeholders a user fills in
(`cityos_…`, `toyono-…`, `org_…`, `cs_…`) by the demo's real values; `curl` fails on an HTTP
error unless the example shows one. A whole-line comment in a block is the output the doc
promises: it must appear (`…` stands for anything, spaces are not compared). A block not run
is preceded by `<!-- not run by tests/test_doc_examples.py: REASON -->`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import CITYOS, engine_environ, free_port

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = re.compile(r"<!-- not run by tests/test_doc_examples\.py: (.+?) -->\n$")
LOCAL = "http://127.0.0.1:8000"
ELLIPSIS = "…"


@dataclass(frozen=True)
class Block:
    doc: str  # path from the repository's root
    line: int
    text: str
    not_run: str  # the reason given in the doc, else ""

    @property
    def first(self) -> str:
        return self.text.splitlines()[0]


def blocks() -> list[Block]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text("utf-8")
        for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S):
            if m[1] not in ("sh", "bash", "shell", "console") and "curl " not in m[2]:
                continue
            before = NOT_RUN.search(text[:m.start()][-600:])
            found.append(Block(str(path.relative_to(ROOT)), text[:m.start()].count("\n") + 1,
                               m[2], before[1] if before else ""))
    return found


# (doc, a text only that block holds, whether curl may answer an HTTP error), in the order
# run: later blocks use what earlier ones made (the shelter of README, the keys of trust.md)
RUN = (
    ("README.md", "source .venv/bin/activate", False),
    ("README.md", "urn:ngsi-ld:Shelter:001", False),
    ("docs/api.md", "/auth/token -d grant_type=client_credentials", False),
    ("docs/ngsi-v2.md", "curl -i http://127.0.0.1:8000/v2/entities", True),
    ("docs/personal.md", "/auth/residents/login", False),
    ("docs/security.md", 'cityos org add "Toyono Mobility"', False),
    ("docs/security.md", "curl -X POST http://127.0.0.1:8000/auth/token", False),
    ("docs/iot.md", "cityos device add shelter-pc-1", False),
    ("docs/trust.md", "curl -H 'Accept: application/x-pem-file'", False),
    ("docs/trust.md", "cityos trust export-checkpoint bundle.json", False),
    ("docs/services/evacuation.md", "cityos evacuation plan --hazard", False),
    ("docs/services/evacuation.md", "/services/v1/evacuation/plan?hazard=flood", False),
    ("docs/services/energy.md", "/services/v1/energy/autonomy", False),
    ("docs/services/energy.md", "cityos energy forecast dayahead.csv", False),
    ("docs/services/energy.md", "cityos energy report --data-dir var", False),
    ("docs/operations.md", "cityos backup --data-dir var --out-dir backups", False),
    ("docs/operations.md", "cityos compliance --data-dir var --html", False),
    ("docs/services/health.md", "cityos health dataset --out acceptance", False),
    ("docs/privacy.md", "cityos health sample --people 400", False),
)
# README's with-the-demo-running block comes with the CLI work's README; until then it is absent
OPTIONAL = {("README.md", "source .venv/bin/activate")}
# README's quick start is `make run` / `make test`: this suite, and the demo started here
QUICK_START = ("README.md", "make run")


def _run_by(block: Block) -> tuple[str, str] | None:
    """The RUN entry that runs `block`, if any."""
    return next(((doc, marker) for doc, marker, _ in RUN
                 if doc == block.doc and marker in block.text), None)


def test_every_shell_example_is_run_or_says_why_not() -> None:
    unaccounted = [f"{b.doc}:{b.line}: {b.first}" for b in blocks()
                   if not b.not_run and _run_by(b) is None
                   and (b.doc, b.first.split("#")[0].strip()) != QUICK_START]
    assert not unaccounted, ("run these in tests/test_doc_examples.py or mark them "
                             f"<!-- not run by tests/test_doc_examples.py: why -->: {unaccounted}")
    for doc, marker, _ in RUN:
        holding = [b for b in blocks() if b.doc == doc and marker in b.text]
        assert len(holding) == 1 or (not holding and (doc, marker) in OPTIONAL), \
            f"{doc}: {len(holding)} blocks hold {marker!r}; the test runs exactly one"


class Demo:
    """`cityos demo` in `folder` (data directory `folder/var`) on a free port."""

    def __init__(self, folder: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")},
                    **engine_environ(), "COLUMNS": "300"}
        self.env["PATH"] = f"{Path(CITYOS).parent}:/usr/local/bin:/usr/bin:/bin"
        self.log = (folder / "demo.log").open("w")
        self.proc = subprocess.Popen([CITYOS, "demo", "--data-dir", "var", "--port", str(port)],
                                     cwd=folder, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 150
        while not self._healthy():
            assert self.proc.poll() is None, (folder / "demo.log").read_text("utf-8")
            assert time.monotonic() < deadline, "cityos demo did not start within 150 s"
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    server = Demo(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def _promised(block: str) -> list[re.Pattern[str]]:
    """The output a block's whole-line comments promise, as patterns over spaceless text."""
    out = []
    for line in block.splitlines():
        if line.startswith("# "):
            parts = [re.escape(p) for p in re.sub(r"\s+", "", line[2:]).split(ELLIPSIS)]
            out.append(re.compile(".*?".join(parts), re.I))
    return out


def test_the_shell_examples_work_against_a_real_demo(demo: Demo, tmp_path: Path) -> None:
    credentials = json.loads((tmp_path / "var" / "town" / "credentials.json").read_text())
    admin = subprocess.run([CITYOS, "token", "--data-dir", "var"], cwd=tmp_path, env=demo.env,
                           capture_output=True, text=True, timeout=120)
    assert admin.returncode == 0, admin.stderr
    values = {"cityos_…": admin.stdout.strip().splitlines()[-1],
              "toyono-…": credentials["resident"][1],
              "org_…": credentials["org"][1], "cs_…": credentials["org"][2]}
    (tmp_path / ".venv").symlink_to(Path(CITYOS).parent.parent)  # README: source .venv/…
    for doc, marker, http_errors in RUN:
        found = [b for b in blocks() if b.doc == doc and marker in b.text]
        if not found and (doc, marker) in OPTIONAL:
            continue
        [block] = found
        script = block.text.replace(LOCAL, demo.url)
        for placeholder, value in values.items():
            script = script.replace(placeholder, value)
        commands = [line for line in script.splitlines() if not line.startswith("#")]
        assert not [c for c in commands if ELLIPSIS in c.split(" #")[0]], \
            f"{doc}:{block.line}: a placeholder the test does not know"
        wrapper = "" if http_errors else \
            'curl() { command curl -sS --fail-with-body "$@"; }\n'
        ran = subprocess.run(["bash", "-c", "set -eo pipefail\n" + wrapper + script],
                             cwd=tmp_path, env=demo.env, capture_output=True, text=True,
                             timeout=180)
        where = f"{doc}:{block.line}\n{script}\n--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
        assert ran.returncode == 0, where
        spaceless = re.sub(r"\s+", "", ran.stdout)
        for promise in _promised(block.text):
            assert promise.search(spaceless), f"{promise.pattern} not in the output of {where}"
    # what the examples say they make, made
    assert (tmp_path / "check" / "token.tst").is_file()
    assert (tmp_path / "platform-ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert len(list((tmp_path / "backups").glob("cityos-*.cityosbk"))) == 1
    assert "自己点検報告書" in (tmp_path / "compliance.html").read_text("utf-8")
