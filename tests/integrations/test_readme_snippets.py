"""The README's signature checks (Python and Node) accept what Parley signs, and only that."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from app.integrations.signing import sign
from tests.support.node import require_node

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_test-secret"
BODY = b'{"id":"evt_1","event":"messages.CREATED","data":{"x":"\xc3\xa9"}}'


def _block(language: str) -> str:
    text = README.read_text()
    start = text.index(f"```{language}\n", text.index("Verifying a delivery")) + len(language) + 4
    return text[start : text.index("```", start)]


def _cases() -> list[tuple[str, bytes, bool]]:
    now = int(time.time())
    rotated = sign(["whsec_new", SECRET], now, BODY)
    return [
        (sign([SECRET], now, BODY), BODY, True),
        (rotated, BODY, True),  # the old secret still signs during the grace period
        (sign([SECRET], now, BODY), BODY + b" ", False),
        (sign(["whsec_other"], now, BODY), BODY, False),
        (sign([SECRET], now - 301, BODY), BODY, False),  # replayed too late
        ("v1=00", BODY, False),
    ]


def test_the_readme_python_snippet_verifies_signatures() -> None:
    scope: dict[str, Any] = {}
    exec(_block("python"), scope)

    results = [scope["verified"](SECRET, header, body) for header, body, _ in _cases()]

    assert results == [expected for _, _, expected in _cases()]


def test_the_readme_node_snippet_verifies_signatures(tmp_path: Path) -> None:
    require_node()
    cases = [(header, body.hex()) for header, body, _ in _cases()]
    script = tmp_path / "verify.js"
    script.write_text(
        _block("js")
        + f"\nconst cases = {json.dumps(cases)};\n"
        + f"console.log(JSON.stringify(cases.map(([h, b]) => verified({json.dumps(SECRET)}, h, "
        + "Buffer.from(b, 'hex')))));\n"
    )

    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [expected for _, _, expected in _cases()]
