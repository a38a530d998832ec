"""The webhook-verification snippets the commissioner's guide includes really verify.

Each is run on deliveries signed as the server signs them (`services.signatures`): a genuine
one and one carrying two signatures (a secret rotation) are accepted; one signed with another
secret, one whose body changed after signing and one with a stale timestamp are refused.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

from care_exchange_server.services import signatures

SNIPPETS = Path(__file__).resolve().parents[2] / "docs" / "snippets"
BODY = json.dumps({"specversion": "1.0", "id": "evt-1", "data": {"sequence": 7}}).encode()
SECRET = signatures.new_secret()
OTHER = signatures.new_secret()


def _cases() -> dict[str, tuple[dict[str, str], bytes, bool]]:
    """Name: (headers, body, should it be accepted)."""
    now = int(time.time())
    genuine = signatures.headers([SECRET], "msg-1", now, BODY)
    return {
        "genuine": (genuine, BODY, True),
        "rotation, two signatures": (
            signatures.headers([OTHER, SECRET], "msg-2", now, BODY),
            BODY,
            True,
        ),
        "another secret": (signatures.headers([OTHER], "msg-3", now, BODY), BODY, False),
        "body changed": (genuine, BODY.replace(b"7", b"8"), False),
        "stale timestamp": (signatures.headers([SECRET], "msg-4", now - 600, BODY), BODY, False),
        "no signature": ({**genuine, "webhook-signature": ""}, BODY, False),
    }


def _python_snippet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_webhook", SNIPPETS / "verify_webhook.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_python_snippet_accepts_genuine_deliveries_and_refuses_forged_and_stale_ones() -> None:
    snippet = _python_snippet()
    verdicts = {}
    for name, (headers, body, _) in _cases().items():
        try:
            snippet.verify_webhook(SECRET, headers, body)
            verdicts[name] = True
        except snippet.InvalidWebhookError:
            verdicts[name] = False
    assert verdicts == {name: expected for name, (_, _, expected) in _cases().items()}


DRIVER = """
import { verifyWebhook, InvalidWebhookError } from %s;
const cases = JSON.parse(await new Response(process.stdin).text());
const verdicts = {};
for (const [name, c] of Object.entries(cases.cases)) {
  try {
    verifyWebhook(cases.secret, c.headers, Buffer.from(c.body, "base64"));
    verdicts[name] = true;
  } catch (error) {
    if (!(error instanceof InvalidWebhookError)) throw error;
    verdicts[name] = false;
  }
}
console.log(JSON.stringify(verdicts));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_javascript_snippet_accepts_genuine_deliveries_and_refuses_forged_and_stale_ones(
    tmp_path: Path,
) -> None:
    driver = tmp_path / "driver.mjs"
    driver.write_text(DRIVER % json.dumps((SNIPPETS / "verify_webhook.mjs").as_uri()))
    cases = _cases()
    given = {
        "secret": SECRET,
        "cases": {
            name: {"headers": headers, "body": base64.b64encode(body).decode()}
            for name, (headers, body, _) in cases.items()
        },
    }
    node = shutil.which("node")
    assert node
    done = subprocess.run(
        [node, str(driver)], input=json.dumps(given), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {name: expected for name, (_, _, expected) in cases.items()}
