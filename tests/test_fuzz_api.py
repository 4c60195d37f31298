"""Fuzzing the analyst API from its own OpenAPI document (schemathesis), in process through the WSGI app.

Every operation in ``/api/openapi`` gets generated requests (valid and invalid parameters and bodies),
sent with a real analyst API key; each answer must be no 5xx, a status the document lists, the
content type it declares, and a body its schema accepts. The number of examples per operation is
bounded and the generation derandomized, so a run takes well under a minute and fails the same way twice.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis import checks

CHECKS = (checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance)
EXAMPLES = 10


@pytest.mark.db
def test_every_api_operation_answers_as_its_document_says(app, demo_index, accounts):
    # identity: the in-process transport does not undo web/compress.py's gzip, as an HTTP client would
    auth = {"Authorization": f"Bearer {accounts.keys['analyst']}", "Accept-Encoding": "identity"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi", app, headers=auth)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                             suppress_health_check=list(hypothesis.HealthCheck))
        def run(case):
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - every operation is tried; all reported
            failures.append(f"{operation.label}: {str(e)[:1500]}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
