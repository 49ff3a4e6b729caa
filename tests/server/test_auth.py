"""Beyond loopback only with a key: Conductor's key/secret -> token flow, as the SDK speaks it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings
from conductor.client.http.models import StartWorkflowRequest, TaskDef
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.orkes_clients import OrkesClients

from tests.server.serving import Server

pytestmark = pytest.mark.slow


def test_a_non_loopback_bind_without_a_key_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowkit", "serve", "--store", str(tmp_path / "s.db"), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr and "Traceback" not in result.stderr


def test_sdk_with_key_and_secret_gets_a_token_and_others_get_401(tmp_path: Path) -> None:
    server = Server(tmp_path / "auth.db", env={"FLOWKIT_SERVER_KEY_ID": "k1", "FLOWKIT_SERVER_KEY_SECRET": "s3cret"})
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.api + "/metadata/workflow", timeout=10)
        assert info.value.code == 401
        assert json.loads(info.value.read())["error"] == "INVALID_TOKEN"
        config = Configuration(
            server_api_url=server.api, authentication_settings=AuthenticationSettings("k1", "s3cret")
        )
        orkes = OrkesClients(configuration=config)
        metadata, workflows = orkes.get_metadata_client(), orkes.get_workflow_client()
        metadata.register_task_def(TaskDef(name="auth_task"))
        metadata.register_workflow_def(
            WorkflowDef(
                name="auth_wf",
                version=1,
                tasks=[
                    WorkflowTask(name="auth_task", task_reference_name="t", type="SIMPLE", input_parameters={}),
                ],
            ),
            overwrite=True,
        )
        workflow_id = workflows.start_workflow(StartWorkflowRequest(name="auth_wf", version=1, input={}))
        assert workflows.get_workflow(workflow_id).status == "RUNNING"
        bad = OrkesClients(
            configuration=Configuration(
                server_api_url=server.api, authentication_settings=AuthenticationSettings("k1", "nope")
            )
        )
        with pytest.raises(Exception, match="401|INVALID|auth"):
            bad.get_workflow_client().get_workflow(workflow_id)
    finally:
        server.stop()
