"""``seqtasks serve``: TF Serving's REST API, checked against direct calls of the SavedModel
signatures; bad requests; server-side batching; a new version picked up under load."""

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers import assert_clean_failure, cli, free_port, png, serving

# with the contract test on one worker: the exports it trained are served here, not rebuilt
pytestmark = pytest.mark.xdist_group("exports")

MESSAGES = ["where is my order", "hi", "I want to cancel my order please"]


@pytest.fixture(scope="module")
def app(served_exports):
    from seqtasks.serving.app import create_app
    from seqtasks.serving.models import ModelStore
    from seqtasks.serving.tfjson import Limits

    store = ModelStore(served_exports[0], poll_seconds=0, log=lambda line: None).start()
    return create_app(store, Limits(max_body_bytes=2**20, max_instances=64,
                                    max_text_chars=20_000))


@pytest.fixture(scope="module")
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def direct(direct_call):
    """The signature called by TensorFlow alone, outputs as JSON-like lists."""
    return lambda *args, **inputs: {k: _plain(v) for k, v in direct_call(*args, **inputs).items()}


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value.item() if isinstance(value, np.generic) else value


def rows(columns):
    """Columnar outputs -> the row format's list of per-example objects."""
    n = len(next(iter(columns.values())))
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


def close(a, b):
    """JSON answers equal, floats to float32 precision."""
    if isinstance(a, dict):
        return set(a) == set(b) and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-5 * max(1.0, abs(b))
    return a == b


# ----- TF Serving's request shapes, against the SavedModel called directly --------------------

def test_status_and_metadata_as_tf_serving_gives_them(client, served_exports):
    import tensorflow as tf

    for recipe in served_exports[1]:
        status = client.get(f"/v1/models/{recipe}").json()
        assert status == {"model_version_status": [{
            "version": "1", "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}
        assert client.get(f"/v1/models/{recipe}/versions/1").json() == status
        meta = client.get(f"/v1/models/{recipe}/metadata").json()
        assert meta["model_spec"] == {"name": recipe, "signature_name": "", "version": "1"}
        defs = meta["metadata"]["signature_def"]["signature_def"]
        loaded = tf.saved_model.load(str(served_exports[1][recipe])).signatures
        assert set(defs) == set(loaded)
        for name, function in loaded.items():
            assert defs[name]["method_name"] == "tensorflow/serving/predict"
            for key, spec in function.structured_input_signature[1].items():
                entry = defs[name]["inputs"][key]
                assert entry["dtype"] == "DT_" + {"string": "STRING", "float32": "FLOAT",
                                                  "int32": "INT32"}[spec.dtype.name]
                dims = [int(d["size"]) for d in entry["tensor_shape"].get("dim", [])]
                assert dims == [-1 if d is None else d for d in spec.shape.as_list()]
            assert set(defs[name]["outputs"]) == set(function.structured_outputs)


def test_row_and_columnar_requests_answer_like_the_signature(client, direct):
    expected = direct("smart_reply", text=MESSAGES)
    for body in ({"instances": MESSAGES},
                 {"instances": [{"text": m} for m in MESSAGES]},
                 {"signature_name": "serving_default", "instances": MESSAGES}):
        answer = client.post("/v1/models/smart_reply:predict", json=body)
        assert answer.status_code == 200, answer.text
        assert close(answer.json(), {"predictions": rows(expected)})
    for body in ({"inputs": MESSAGES}, {"inputs": {"text": MESSAGES}}):
        answer = client.post("/v1/models/smart_reply/versions/1:predict", json=body)
        assert close(answer.json(), {"outputs": expected})


@pytest.mark.parametrize("recipe, body, inputs", [
    ("tagging", {"instances": ["the cat sat on the mat", "a dog"]},
     {"text": ["the cat sat on the mat", "a dog"]}),
    ("translation", {"instances": ["ein mann", "eine frau liest"]},
     {"text": ["ein mann", "eine frau liest"]}),
    ("forecasting", {"instances": [[float(i % 7) for i in range(30)]]},
     {"values": np.array([[float(i % 7) for i in range(30)]], np.float32)}),
    ("language_model", {"instances": ["the "]}, {"prompt": ["the "]}),
])
def test_each_recipe_answers_like_its_signature(client, direct, recipe, body, inputs):
    answer = client.post(f"/v1/models/{recipe}:predict", json=body)
    assert answer.status_code == 200, answer.text
    expected = direct(recipe, **inputs)
    predictions = rows(expected) if len(expected) > 1 else next(iter(expected.values()))
    assert close(answer.json(), {"predictions": predictions})


def test_bytes_as_b64_and_the_scalar_inputs_of_generate(client, direct):
    images = [png(0), png(1)]
    encoded = [{"b64": base64.b64encode(i).decode()} for i in images]
    expected = direct("captioning", image=images)["caption"]
    for body in ({"instances": encoded}, {"instances": [{"image": e} for e in encoded]},
                 {"inputs": {"image": encoded}}):
        answer = client.post("/v1/models/captioning:predict", json=body).json()
        assert answer.get("predictions", answer.get("outputs")) == expected
    options = {"length": 6, "temperature": 0.0, "top_k": 0, "seed": 3}
    answer = client.post("/v1/models/language_model:predict", json={
        "signature_name": "generate", "inputs": {"prompt": ["the ", "a"], **options}})
    assert answer.status_code == 200, answer.text
    import tensorflow as tf

    typed = {"length": tf.int32, "temperature": tf.float32, "top_k": tf.int32, "seed": tf.int32}
    expected = direct("language_model", "generate", prompt=["the ", "a"],
                      **{k: tf.constant(v, typed[k]) for k, v in options.items()})
    assert answer.json() == {"outputs": expected["text"]}


# ----- bad requests: TF Serving-style {"error"}, a 4xx, and the server keeps serving ----------

TEN_THOUSAND_WORDS = " ".join(["order"] * 10_000)


@pytest.mark.parametrize("path, body, status, fragment", [
    ("smart_reply:predict", b'{"instances": ["a"', 400, "not JSON"),
    ("nope:predict", {"instances": ["a"]}, 404, "Servable not found"),
    ("smart_reply/versions/9:predict", {"instances": ["a"]}, 404, "Specific(smart_reply, 9)"),
    ("smart_reply/versions/x:predict", {"instances": ["a"]}, 400, "version must be a number"),
    ("smart_reply:predict", {"instances": [{"message": "a"}]}, 400, "unknown ['message']"),
    ("smart_reply:predict", {"inputs": {"text": ["a"], "extra": [1]}}, 400, "unknown ['extra']"),
    ("forecasting:predict", {"instances": [["a"] * 30]}, 400, "expected numbers (DT_FLOAT)"),
    ("smart_reply:predict", {"instances": [3.5]}, 400, "expected strings (DT_STRING)"),
    ("forecasting:predict", {"instances": [[1.0] * 29]}, 400, "does not fit"),
    ("smart_reply:predict", {"instances": []}, 400, "empty list"),
    ("smart_reply:predict", {"inputs": []}, 400, "empty list"),
    ("smart_reply:predict", {"instances": ["a"] * 65}, 400, "at most 64"),
    ("smart_reply:predict", {"instances": ["a"], "inputs": ["a"]}, 400, "exactly one of"),
    ("smart_reply:predict", {"signature_name": "nope", "instances": ["a"]}, 400,
     '"nope" not found'),
    ("smart_reply:predict", ["a"], 400, "JSON object"),
    ("captioning:predict", {"instances": [{"b64": base64.b64encode(b"no image").decode()}]},
     400, "Unknown image file format"),
    ("captioning:predict", {"instances": [{"b64": "***"}]}, 400, "not base64"),
    ("smart_reply:predict", {"instances": [TEN_THOUSAND_WORDS]}, 400, "at most 20,000"),
    ("language_model:predict", {"signature_name": "generate", "instances": ["a"]}, 400,
     "columnar"),
])
def test_a_bad_request_is_a_4xx_with_an_error_and_the_server_keeps_serving(
        client, path, body, status, fragment):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post(f"/v1/models/{path}", content=data,
                         headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"} and fragment in answer.json()["error"], answer.text
    assert "Traceback" not in answer.text
    assert client.post("/v1/models/smart_reply:predict",
                       json={"instances": ["hi"]}).status_code == 200


def test_a_body_over_the_size_limit_is_413(client):
    big = json.dumps({"instances": ["x" * 1000] * 2000})
    answer = client.post("/v1/models/smart_reply:predict", content=big,
                         headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "at most 1,048,576" in answer.json()["error"]


def test_no_request_reads_a_file(client, served_exports):
    for path in ("/static/../../setup.cfg", "/static/%2e%2e%2fapp.py", "/static/models.py",
                 f"/v1/models/{served_exports[0]}:predict", "/v1/models/..%2F..%2Fetc:predict"):
        answer = client.get(path) if path.startswith("/static") else client.post(
            path, json={"instances": ["a"]})
        assert answer.status_code == 404, (path, answer.text)
    assert client.get("/").headers["content-type"].startswith("text/html")


# ----- batching ----------------------------------------------------------------------------------

def test_concurrent_requests_are_batched_and_answer_as_alone(app, direct):
    import httpx

    texts = [f"{m} {i}" for i in range(6) for m in MESSAGES] + ["the cat sat on a very long mat"]

    async def post_all(recipe):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(*[
                c.post(f"/v1/models/{recipe}:predict", json={"instances": [t]}) for t in texts])

    for recipe in ("smart_reply", "tagging"):
        answers = asyncio.run(post_all(recipe))
        batchers = [b for k, b in app.state.batchers.items() if k[0] == recipe]
        assert max(batchers[0].batches) > 1, batchers[0].batches  # several requests per call
        for text, answer in zip(texts, answers):
            expected = rows(direct(recipe, text=[text]))
            assert close(answer.json(), {"predictions": expected}), (text, answer.text)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_batches_run_side_by_side_up_to_the_threads(concurrency):
    """A batch is collected while another runs, up to one running batch per thread; more
    requests than that wait and join the next batch."""
    import concurrent.futures

    from seqtasks.serving.batching import Batcher

    running, most, lock = 0, 0, threading.Lock()

    def function(inputs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return {"y": inputs["x"] * 2}

    async def main():
        with concurrent.futures.ThreadPoolExecutor(2) as executor:
            batcher = Batcher(function, max_batch_size=2, timeout=0, executor=executor,
                              concurrency=concurrency)
            answers = await asyncio.gather(*[batcher({"x": np.array([i])}, 1)
                                             for i in range(8)])
        return batcher, answers

    batcher, answers = asyncio.run(main())
    assert [int(a["y"][0]) for a in answers] == [2 * i for i in range(8)]
    assert most == concurrency and sum(batcher.batches) == 8


def test_a_batcher_serves_a_second_event_loop_while_the_first_still_runs():
    """Starlette's TestClient runs the app in a loop of its own thread, a later test in
    ``asyncio.run``: the first loop's collecting task must not take the second's requests."""
    import concurrent.futures

    from seqtasks.serving.batching import Batcher

    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        batcher = Batcher(lambda inputs: {"y": inputs["x"] + 1}, max_batch_size=4,
                          timeout=0.001, executor=executor, concurrency=2)
        first = asyncio.new_event_loop()
        thread = threading.Thread(target=first.run_forever, daemon=True)
        thread.start()
        try:
            call = asyncio.run_coroutine_threadsafe(batcher({"x": np.array([1])}, 1), first)
            assert int(call.result(timeout=10)["y"][0]) == 2

            async def many():
                return await asyncio.wait_for(asyncio.gather(*[
                    batcher({"x": np.array([i])}, 1) for i in range(10)]), timeout=10)

            answers = asyncio.run(many())
            assert [int(a["y"][0]) for a in answers] == [i + 1 for i in range(10)]
            again = asyncio.run_coroutine_threadsafe(batcher({"x": np.array([5])}, 1), first)
            assert int(again.result(timeout=10)["y"][0]) == 6
        finally:
            async def cancel_the_rest():
                for task in asyncio.all_tasks() - {asyncio.current_task()}:
                    task.cancel()

            asyncio.run_coroutine_threadsafe(cancel_the_rest(), first).result(timeout=10)
            first.call_soon_threadsafe(first.stop)
            thread.join(10)
            first.close()


def test_one_bad_request_in_a_batch_fails_alone(app):
    import httpx

    good = {"instances": [{"b64": base64.b64encode(png(5)).decode()}]}
    bad = {"instances": [{"b64": base64.b64encode(b"GIF89a broken").decode()}]}

    async def post_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(*[
                c.post("/v1/models/captioning:predict", json=body)
                for body in (good, bad, good, good)])

    codes = [a.status_code for a in asyncio.run(post_all())]
    assert codes == [200, 400, 200, 200]


# ----- a new version under load, and the command itself -----------------------------------------

def test_a_new_version_is_picked_up_under_load_without_a_failed_request(
        served_exports, tmp_path, direct):
    import httpx
    from samples import tiny_exports

    from seqtasks.serving.app import create_app
    from seqtasks.serving.models import ModelStore

    folder = tmp_path / "served" / "smart_reply"
    shutil.copytree(served_exports[1]["smart_reply"], folder / "1")
    newer = tiny_exports(tmp_path / "staging", ["smart_reply"], seed=7)["smart_reply"]
    store = ModelStore(folder, poll_seconds=0.2, log=lambda line: None).start()
    results, stop = [], threading.Event()
    with serving(create_app(store)) as address:
        url = f"{address}/v1/models/smart_reply"

        def load():
            with httpx.Client(timeout=30) as c:
                while not stop.is_set():
                    r = c.post(url + ":predict", json={"instances": MESSAGES[:1]})
                    results.append((r.status_code, r.json()))

        clients = [threading.Thread(target=load) for _ in range(4)]
        try:
            for c in clients:
                c.start()
            time.sleep(1.0)
            shutil.copytree(newer, tmp_path / "tmp-2")
            (tmp_path / "tmp-2").rename(folder / "2")  # appears whole, as an export does
            deadline = time.monotonic() + 30
            while httpx.get(url).json()["model_version_status"][0]["version"] != "2":
                assert time.monotonic() < deadline, "version 2 was not picked up"
                time.sleep(0.1)
            picked_up = len(results)
            time.sleep(1.0)
        finally:
            stop.set()
            for c in clients:
                c.join()
            store.stop()
    assert len(results) > picked_up > 10
    assert all(code == 200 for code, _ in results), [r for r in results if r[0] != 200][:3]
    old = {"predictions": rows(direct("smart_reply", text=MESSAGES[:1]))}
    assert close(results[0][1], old)
    import tensorflow as tf

    new = tf.saved_model.load(str(newer)).signatures["serving_default"](
        text=tf.constant(MESSAGES[:1]))
    assert close(results[-1][1], {"predictions": rows({k: _plain(v.numpy())
                                                       for k, v in new.items()})})
    assert not close(results[-1][1], old)


def test_the_serve_command_listens_on_loopback(served_exports, tmp_path):
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "seqtasks", "serve", str(served_exports[0] / "translation"),
         "--port", str(port), "--name", "de-en"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/de-en:predict",
                                    json={"instances": ["ein mann"]})
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert answer.status_code == 200 and set(answer.json()["predictions"][0]) == {
            "translation", "score"}
        with socket.socket() as s:  # not on another address of this machine
            address = socket.gethostbyname(socket.gethostname())
            if not address.startswith("127."):
                assert s.connect_ex((address, port)) != 0
    finally:
        process.terminate()
        process.wait(20)


def test_serve_with_bad_options_or_folders_says_so(tmp_path, served_exports):
    assert_clean_failure(cli("serve", tmp_path / "none"), "no such export folder")
    (tmp_path / "empty").mkdir()
    assert_clean_failure(cli("serve", tmp_path / "empty"), "no exported models here")
    assert_clean_failure(cli("serve", served_exports[0], "--name", "nope"),
                         "no exported models here", "'nope'")
    assert_clean_failure(cli("serve", served_exports[0], "--port", "0"), "--port")
    assert_clean_failure(cli("serve", served_exports[0], "--max-batch-size", "0"),
                         "--max-batch-size")
