"""The cells of notebooks/07_workers_as_services.ipynb (make_notebooks.py writes it; markdown cells start with '#')."""

CELLS = [
    "# 7. Workers as services: `flowkit serve`, a worker process, and the notebook as a client\n\n"
    "Conductor runs workflows on a server; workers are separate services that poll it over HTTP. "
    "Here the same image workers run that way: `flowkit serve` (Conductor's REST API on flowkit's engine) "
    "in one process, `flowkit worker` polling it in another, and this notebook a client through "
    "`flowkit.connect`. The code below speaks only Conductor's API, so it works against a Conductor "
    "server too (give its URL, and `key_id`/`key_secret` if it wants a token).",
    """import os, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
import flowkit, flowkit.contrib
from flowkit.contrib.s3 import ensure_endpoint
from flowkit.contrib.tutorial import SAMPLES, record
from flowkit.notebook import monitor, preview
from IPython.display import display

photo = str(SAMPLES / "landscape.jpg")
runs, images = [], []
home = Path(tempfile.mkdtemp(prefix="flowkit-07-"))
s3 = ensure_endpoint()  # with no AWS account: a local S3 server, shared with the worker process below""",
    "## Start the server\n`flowkit serve` on a fresh store in a temporary folder, on a free port of 127.0.0.1.",
    """with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
url = f"http://127.0.0.1:{port}"
server = subprocess.Popen([sys.executable, "-m", "flowkit", "serve", "--store", str(home / "serve.db"), "--port", str(port)],
                          stdout=subprocess.DEVNULL, stderr=open(home / "serve.log", "wb"))
for _ in range(300):
    try:
        urllib.request.urlopen(url + "/health", timeout=1)
        break
    except OSError:
        assert server.poll() is None, (home / "serve.log").read_text()
        time.sleep(0.1)
print("flowkit serve at", url)""",
    "## Start the workers as a service\n`flowkit worker` imports `flowkit.contrib:image_workers` (the same "
    "functions the other notebooks run in-process) and long-polls the server's task queues for them.",
    """env = dict(os.environ, FLOWKIT_S3_BUCKET=s3.bucket, FLOWKIT_IMAGES_DIR=str(home / "images"))
if s3.endpoint_url:
    env["FLOWKIT_S3_ENDPOINT"] = s3.endpoint_url
workers = subprocess.Popen([sys.executable, "-m", "flowkit", "worker", "--server", url,
                            "--workers", "flowkit.contrib:image_workers", "--threads", "2"],
                           env=env, stdout=subprocess.DEVNULL, stderr=open(home / "workers.log", "wb"))
print("worker service, pid", workers.pid)""",
    "## Connect, register, start\nThe client registers the task and workflow definitions and starts the "
    "workflow on the server; `run` is a `flowkit.Execution` like a local one.",
    """client = flowkit.connect(url)
client.register_task_defs(flowkit.contrib.image_task_defs(retry_delay_seconds=1))
wf = flowkit.WorkflowBuilder("image_convert_resize_service", description="Resize and upload one image, on a server")
resize = flowkit.contrib.image_convert_resize(
    task_ref_name="image_convert_resize_ref",
    fileLocation=wf.input("fileLocation"),
    outputFormat=wf.input("recipeParameters.outputFormat"),
    outputWidth=wf.input("recipeParameters.outputSize.width"),
    outputHeight=wf.input("recipeParameters.outputSize.height"),
)
upload = flowkit.contrib.upload_toS3(task_ref_name="upload_toS3_ref", fileLocation=resize.output("fileLocation"))
wf >> resize >> upload
wf.output_parameter("fileLocation", upload.output("fileLocation"))
client.register(wf)
print([d.name for d in client.workflow_defs()])""",
    "## Watch it live\nThe monitor reads the execution from the server while it runs; its buttons are "
    "Conductor's REST calls (pause, resume, terminate, retry, rerun).",
    """run = client.start("image_convert_resize_service", {"fileLocation": photo,
                     "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 320, "height": 200}}})
display(monitor(run))
run.wait(120)
runs.append(run)
print(run.status, run.output)""",
    "## The diagram and the tasks, from the server",
    """run""",
    """run.tasks_df()[["ref", "status", "attempt", "duration", "worker"]]""",
    """print(client.search(name="image_convert_resize_service", limit=5))
images.append(run.task("image_convert_resize_ref").output["fileLocation"])
display(preview(*images, width=240))""",
    "## Stop the services\nThe worker finishes the tasks it holds, then both processes end; the store "
    "stays in the temporary folder.",
    """report = record("07_workers_as_services", runs, images)  # read from the server before it stops
assert all(r["status"] == "COMPLETED" for r in report["runs"]), report
print(f"{len(report['runs'])} run(s), {report['tasks']} tasks, {len(report['s3_objects'])} S3 object(s) in the bucket")
workers.terminate()  # SIGTERM: the worker service stops polling, finishes what it holds, exits 0
server.terminate()
print("worker service exit code", workers.wait(30), "| server stopped:", server.wait(30) is not None)""",
]
