"""The master's manhole as an operator meets it: stock telnet in a real terminal, bad arguments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from master_support import MasterProcess, Telnet, start_master
from terminal_support import Terminal, require_tool

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    running = start_master(tmp_path_factory.mktemp("manhole"))
    yield running
    assert running.stop() == 0, "\n".join(running.process.lines[-30:])


def test_stock_telnet_shows_prompts_and_replies_at_column_0(master: MasterProcess) -> None:
    """Debian's telnet, typed into like a person would: nothing is indented, the password is not
    shown, and line editing (backspace) works."""
    telnet = require_tool("telnet", "telnet")
    password = master.settings.secrets.manhole_password
    term = Terminal([telnet, "127.0.0.1", str(master.manhole_port)])
    try:
        term.wait_for_line("login:")
        term.type("admin")
        term.press("Enter")
        lines = term.wait_for_line("password:")
        assert "password:" in lines, "the password prompt is not at column 0"

        term.type(password)
        term.press("Enter")
        term.wait_for("the command prompt", lambda shown: shown[-1:] == [">"])
        term.type("statux")
        term.press("BSpace")
        term.type("s")
        term.press("Enter")
        lines = term.wait_for_line("logins ok")
        term.wait_for_line(">", count=2)
        at = lines.index("> status")  # the echo shows the edited line, the prompt at column 0
        assert lines[at + 1].startswith("up "), lines
        assert lines[at + 2].startswith("logins ok "), lines

        term.type("quit")
        term.press("Enter")
        lines = term.wait_for_line("Connection closed")
        assert "bye" in lines
        shown = "\n".join(lines)
        assert password not in shown
        indented = [line for line in lines if line != line.lstrip()]
        assert not indented, f"stray indentation on the screen:\n{shown}"
    finally:
        term.close()


async def test_bad_arguments_get_a_usage_line_and_log_no_traceback(master: MasterProcess) -> None:
    first_line = len(master.process.lines)
    telnet = await Telnet.open(master.manhole_port)
    try:
        await telnet.login("admin", master.settings.secrets.manhole_password)

        async def run(command: str) -> str:
            telnet.send(command)
            return (await telnet.read_until("\r\n> "))[: -len("> ")].strip()

        answers = {command: await run(command) for command in (
            "accounts abc", "accounts 0", "accounts 1 2", "keys new lots", "keys new 0",
            "keys frobnicate", "role", "ban", "queue")}
        assert await run("accounts 5") == "no accounts"  # the good form still works
        telnet.send("quit")
        await telnet.read_all()
    finally:
        telnet.close()
    for command, answer in answers.items():
        assert answer.startswith("usage: "), (command, answer)
        assert "\n" not in answer, (command, answer)
    # the session's end is logged after anything the commands logged
    master.process.wait_for_line("telnet session from 127.0.0.1 ended", start=first_line)
    logged = master.process.lines[first_line:]
    assert not [line for line in logged if "Traceback" in line or "ERROR" in line], logged
