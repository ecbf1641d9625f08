from __future__ import annotations

import subprocess
import sys


def test_the_api_and_worker_modules_import_no_ai_framework_until_a_run_needs_one() -> None:
    script = (
        "import sys, app.http.app, app.workers.registry, app.resolvers.ai, app.ai.runs\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules\n"
        "                if m.startswith(('semantic_kernel', 'autogen', 'openai'))})\n"
        "print(','.join(heavy))\n"
    )

    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == ""
