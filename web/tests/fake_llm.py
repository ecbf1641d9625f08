"""The Python tests' fake OpenAI-compatible server (tests/fakes/openai_server.py) as a process of
its own, for the browser test: `parley dev` drafts replies against it (PARLEY_AI_BASE_URL).

Prints its base URL on one line, then answers every chat request with the draft below (streamed
when asked) until it is stopped.
"""

from __future__ import annotations

import sys
import time

from tests.fakes.openai_server import FakeOpenAI, text

DRAFT = "Hi Ada, your parcel left this morning and should reach you tomorrow."


def main() -> None:
    llm = FakeOpenAI(api_key=sys.argv[1])
    llm.start()
    llm.script(*[text(DRAFT, delay=0.3) for _ in range(50)])
    print(llm.base_url, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
