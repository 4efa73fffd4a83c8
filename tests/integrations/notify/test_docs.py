"""The receiver snippet in docs/integrations/alerts.md verifies a signature Luna made (and refuses a
tampered body), so the documentation cannot drift from the signing code."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from luna_iems.integrations.notify import outbox, signing

DOC = Path(__file__).parents[3] / "docs" / "integrations" / "alerts.md"


def test_documented_receiver_snippet_verifies_luna_signatures() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    snippet = next(b for b in blocks if "def verify_luna_signature" in b)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)
    verify = namespace["verify_luna_signature"]

    secret = signing.generate_secret()
    body = outbox.body_bytes({"type": "alert.raised", "site": "hall", "message": "Spitze: 42 kW"})
    header = signing.signature_header(secret=secret, timestamp=int(time.time()), body=body)
    assert verify(secret, header, body)
    assert not verify(secret, header, body.replace(b"42", b"43"))
    assert not verify("whsec_wrong", header, body)
    old = signing.signature_header(secret=secret, timestamp=int(time.time()) - 3600, body=body)
    assert not verify(secret, old, body)
