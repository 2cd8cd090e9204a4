"""Issue #29, "the first hour with cityos": what a new user meets on the command line — a busy
port, a wrong --data-dir, the tour, error messages, help and piped output, a quick --help.

Every test runs the real `cityos` command as a person would (its output piped, not a terminal).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from conftest import CITYOS, free_port

ROOT = Path(__file__).resolve().parent.parent
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def environ() -> dict[str, str]:
    """The caller's environment (PYTHONPATH: these sources) without cityos settings and without
    COLUMNS, as in a fresh shell whose output is piped."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_") and k != "COLUMNS"}


def cityos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, env=environ(),
                          timeout=timeout)


def one_bilingual_line(done: subprocess.CompletedProcess[str], *english: str) -> str:
    """The command failed as a user error: exit status 2, one line on standard error in
    Japanese and English naming `english`, no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and "Error:" not in output, output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, output
    assert JAPANESE.search(lines[0]) and " / " in lines[0], lines[0]
    for text in english:
        assert text in lines[0], lines[0]
    return lines[0]


# 1. a busy port -----------------------------------------------------------------------------

@pytest.fixture
def busy_port() -> Iterator[tuple[int, socket.socket]]:
    """A port another program listens on (as a second `make run` would)."""
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    other.setblocking(False)
    yield other.getsockname()[1], other
    other.close()


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_busy_port_stops_before_anything_is_created_or_printed(
        command: str, busy_port: tuple[int, socket.socket], tmp_path: Path) -> None:
    port, other = busy_port
    data = tmp_path / "var"
    done = cityos(command, "--data-dir", str(data), "--port", str(port))
    one_bilingual_line(done, f"port {port}", "already in use", "--port")
    assert done.stdout == ""  # no admin password, token, logins or tour for the other server
    assert not data.exists()  # no platform created
    with pytest.raises(BlockingIOError):
        other.accept()  # and nothing (the simulator) talked to the other program


# 2. a wrong --data-dir ------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["init", "serve", "demo"])
def test_a_data_dir_that_is_a_file_is_one_line_not_a_traceback(command: str,
                                                                 tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a directory")
    extra = ["--port", str(free_port())] if command != "init" else []
    done = cityos(command, "--data-dir", str(file), *extra)
    one_bilingual_line(done, str(file), "not a directory")
    assert file.read_text() == "not a directory"


@pytest.mark.parametrize("command", ["init", "serve"])
def test_a_data_dir_that_cannot_be_created_is_one_line(command: str, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("")
    extra = ["--port", str(free_port())] if command != "init" else []
    one_bilingual_line(cityos(command, "--data-dir", str(file / "var"), *extra), "cannot create")
    if Path("/proc/self").exists():  # a directory nobody may create anything in
        one_bilingual_line(cityos(command, "--data-dir", "/proc/cityos", *extra),
                           "cannot create --data-dir /proc/cityos")


@pytest.mark.parametrize("command", [["token"], ["verify"], ["org", "list"]])
def test_commands_on_a_platform_name_a_file_given_as_data_dir(command: list[str],
                                                              tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("")
    line = one_bilingual_line(cityos(*command, "--data-dir", str(file)), "not a directory")
    assert "cityos init" not in line  # which would lead into the same wall


def test_a_missing_platform_suggests_init_whole(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "var"
    line = one_bilingual_line(cityos("token", "--data-dir", str(deep)), "holds no platform")
    assert f"`cityos init --data-dir {deep}`" in line  # one piece, to copy


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    from cityos.cli_errors import guarded

    def broken(args: list[str]) -> None:
        raise RuntimeError("the disk caught fire")

    with pytest.raises(SystemExit) as stop:
        guarded(broken, ["serve"])
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the disk caught fire" in err[0] and "--debug" in err[0]
    assert JAPANESE.search(err[0])
    with pytest.raises(RuntimeError):
        guarded(broken, ["serve", "--debug"])
    seen: list[list[str]] = []
    guarded(seen.append, ["--debug", "token", "--", "--debug"])
    assert seen == [["token", "--", "--debug"]]  # --debug is ours, not the command's


# 3. the tour ----------------------------------------------------------------------------------

def _tour(text: str) -> list[str]:
    """The tour's lines: those indented under its heading."""
    block = text.split("Tour / ツアー", 1)[1].splitlines()[1:]
    lines = [line for line in block[:next(i for i, line in enumerate(block)
                                          if not line.startswith("    "))]]
    return [line.strip() for line in lines]


def test_the_demo_tour_can_be_pasted_line_by_line(tmp_path: Path) -> None:
    bash, curl = shutil.which("bash"), shutil.which("curl")
    if not (bash and curl):
        pytest.skip("the tour is for a shell with curl (apt-get install curl)")
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen([CITYOS, "demo", "--data-dir", str(tmp_path / "var"),
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env=environ())
    try:
        deadline = time.monotonic() + 120
        while "出典" not in log.read_text("utf-8"):
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text("utf-8")
            time.sleep(0.2)
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert demo.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        tour = _tour(log.read_text("utf-8"))
        commands = [line for line in tour if not line.startswith("#")]
        assert commands[0].startswith("TOKEN=$(curl "), tour  # step 1 sets TOKEN …
        assert all('-H "Authorization: Bearer $TOKEN"' in c for c in commands[1:]), tour
        assert any("15分" in line and "15 minutes" in line for line in tour), tour  # … expiring
        # pasted line by line into one shell: every call is answered, none with 401
        script = "\n".join([*tour[:2], *(f"{c} -w ' HTTP=%{{http_code}}\\n'" for c in commands[1:])])
        ran = subprocess.run([bash, "-c", script], capture_output=True, text=True, timeout=60)
        answers = re.findall(r"HTTP=(\d+)", ran.stdout)
        assert answers == ["200"] * (len(commands) - 1), ran.stdout + ran.stderr
        assert "EvacuationShelter" in ran.stdout and "PhotovoltaicMeasurement" in ran.stdout
        # and README's tour, with cityos on PATH as `source .venv/bin/activate` puts it
        readme = (ROOT / "README.md").read_text("utf-8")
        [block] = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S)
                   if "source .venv/bin/activate" in b]
        lines = [line.replace("--data-dir var", f"--data-dir {tmp_path / 'var'}")
                 .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
                 + (" -w ' HTTP=%{http_code}\\n'" if line.startswith("curl ") else "")
                 for line in block.splitlines() if not line.startswith("source ")]
        ran = subprocess.run([bash, "-c", "\n".join(lines)], capture_output=True, text=True,
                             timeout=120, env={**environ(), "PATH": f"{Path(CITYOS).parent}:"
                                               f"{os.environ['PATH']}"})
        answers = re.findall(r"HTTP=(\d+)", ran.stdout)
        assert answers and answers == ["200"] * len(answers), ran.stdout + ran.stderr
    finally:
        demo.terminate()
        demo.wait(30)


def test_readme_sets_the_token_before_using_it_and_puts_cityos_on_path() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "source .venv/bin/activate" in readme
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        if "$TOKEN" in block:
            assert re.search(r"^TOKEN=\$\(", block, re.M), block  # set by a command, not by hand
            assert block.index("TOKEN=") < block.index("$TOKEN")
            assert all('"Authorization: Bearer $TOKEN"' in call
                       for call in re.split(r"\n(?=curl )", block)[1:]), block


# 9. messages, help and piped output ---------------------------------------------------------

@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A platform in a deep folder (longer than 80 columns), and what `cityos init` printed."""
    data = tmp_path_factory.mktemp("first-hour") / ("a-folder-with-a-long-name-" * 3) / "var"
    done = cityos("init", "--data-dir", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    return data, done.stdout


def test_init_prints_whole_lines_when_piped(platform: tuple[Path, str]) -> None:
    data, printed = platform
    assert re.search(r"^Platform CA / 認証局: .*\(SHA-256 [0-9a-f]{64}\)$", printed, re.M), printed
    url = f"sqlite:///{(data / 'cityos.db').resolve()}"
    assert f"(database {url})" in printed, printed  # as docs/operations.md writes it
    assert f"sqlite:///{data.resolve()}".replace("///", "//", 1) not in printed


def test_account_errors_are_bilingual_and_list_values_plainly(platform: tuple[Path, str]) -> None:
    data, _ = platform
    one_bilingual_line(cityos("org", "add", "Bad", "--corporate-number", "1234567890123",
                              "--data-dir", str(data)), "check digit")
    line = one_bilingual_line(cityos("staff", "add", "bob", "--role", "boss", "--role",
                                     "viewer", "--data-dir", str(data)), "roles must be among")
    assert "not boss, viewer" in line and "(" + "'" not in line and "[" not in line


def test_a_grant_is_listed_plainly_and_whole(platform: tuple[Path, str]) -> None:
    data, _ = platform
    made = cityos("org", "add", "Toyono Mobility", "--corporate-number", "7000012050002",
                  "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    done = cityos("org", "grant", "Toyono Mobility", "--read", "EvacuationShelter,TownArea",
                  "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("Toyono Mobility: read EvacuationShelter, TownArea; write -")


def test_token_says_how_long_it_lives(platform: tuple[Path, str]) -> None:
    data, _ = platform
    done = cityos("token", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    said, token = done.stdout.strip().splitlines()
    assert "15分" in said and "15 minutes" in said and token.count(".") == 2


@pytest.mark.parametrize("command", [["org", "grant"], ["token"], ["audit", "export"], ["serve"]])
def test_help_shows_no_bool_for_flags(command: list[str]) -> None:
    done = cityos(*command, "--help")
    assert done.returncode == 0 and "--help" in done.stdout, done.stderr
    assert "<bool>" not in done.stdout, done.stdout


def test_a_mistyped_option_is_answered_in_both_languages() -> None:
    done = cityos("serve", "--prot", "8001")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--prot" in done.stderr and "使い方 / help: 'cityos serve --help'" in done.stderr
    assert "コマンドの誤り / Error" in done.stderr


# 10. a quick --help ---------------------------------------------------------------------------

HEAVY = ("starlette", "uvicorn", "numba", "numpy", "cryptography", "asyncpg", "httpx")


def test_help_imports_none_of_the_platform() -> None:
    probe = ("import sys\nsys.argv = ['cityos', '--help']\nfrom cityos.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=environ(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout.splitlines()[-1]
    for name in ("init", "serve", "demo", "org", "token", "verify", "trust", "darp"):
        assert re.search(rf"^│ {name}\s", done.stdout, re.M), done.stdout  # all listed


def test_a_part_loads_when_used() -> None:
    done = cityos("darp", "--help")
    assert done.returncode == 0 and "solve" in done.stdout, done.stdout + done.stderr


def test_the_printed_address_leads_somewhere(client: TestClient) -> None:
    """`make run` prints the platform's address: opened in a browser it shows where residents,
    staff and companies go (a new user got a JSON 404 there); a program learns the same."""
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"},
                      follow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for link in ('href="/app"', 'href="/console"', 'href="/openapi.json"'):
        assert link in page.text
    assert "まちのアプリを開く" in page.text
    lost = client.get("/console/nowhere", headers={"Accept": "text/html"})
    assert lost.status_code == 404 and "console.css" in lost.text  # the console's own look
    assert client.get("/").json()["console"] == "/console/"
