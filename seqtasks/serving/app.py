"""The ASGI app of ``seqtasks serve``: TF Serving's REST API and a page to try the models.

Routes (TF Serving's, plus two of ours):

- ``GET /v1/models/<name>[/versions/<N>]``: version status;
- ``GET /v1/models/<name>[/versions/<N>]/metadata``: the signature defs;
- ``POST /v1/models/<name>[/versions/<N>]:predict``: row or columnar predict;
- ``GET /`` and ``GET /static/<file>``: the page (files of the package only);
- ``GET /seqtasks/models``: what the page needs to draw a panel per model.

Every error is ``{"error": "..."}`` with a 4xx status (5xx only for a failure of the server
itself, without a traceback). No route reads or writes a file named by a request.
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import re
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seqtasks.errors import DataError
from seqtasks.serving import tfjson
from seqtasks.serving.batching import MAX_BATCH_SIZE, Batcher
from seqtasks.serving.models import NotFound
from seqtasks.signatures import call_signature

#: what the page is told of an export's seqtasks.json (not the vocabularies)
PAGE_FACTS = ("recipe", "generate", "window", "horizon", "columns", "target", "last_date",
              "step_days", "top_k", "decode")

STATIC = {  # the only files the server sends: name -> media type
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


class Error(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def _version(request):
    text = request.path_params.get("version")
    if text is None:
        return None
    if not text.isdigit():
        raise Error(400, f"version must be a number, found {text!r}")
    return int(text)


def _servable(store, request):
    try:
        return store.get(request.path_params["name"], _version(request))
    except NotFound as error:
        raise Error(404, str(error)) from None


def create_app(store, limits=None, max_batch_size=MAX_BATCH_SIZE, batch_timeout=0.002,
               batching=True, threads=2):
    """The app serving ``store`` (a started :class:`~seqtasks.serving.models.ModelStore`).

    Args:
        limits: :class:`~seqtasks.serving.tfjson.Limits` of one request.
        max_batch_size: Most examples the server batches into one call.
        batch_timeout: Seconds a batch waits for more requests.
        batching: Batch concurrent requests (False: each request is its own call).
        threads: Threads running the model calls.
    """
    limits = limits or tfjson.Limits()
    executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="predict")
    batchers = {}

    def call(servable, signature_name):
        return functools.partial(call_signature, servable.signatures[signature_name])

    async def predict_outputs(servable, parsed):
        key = (servable.name, servable.version, parsed.signature_name)
        if batching and servable.batchable[parsed.signature_name] and parsed.rows < max_batch_size:
            if key not in batchers:
                for old in [k for k in batchers if k[0] == key[0] and k[1] != key[1]]:
                    batchers.pop(old)  # an older version's batcher: its requests hold it
                batchers[key] = Batcher(call(servable, parsed.signature_name), max_batch_size,
                                        batch_timeout, executor, concurrency=threads)
            return await batchers[key](parsed.inputs, parsed.rows)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, call(servable, parsed.signature_name),
                                          parsed.inputs)

    async def read_json(request):
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise Error(413, f"the request body has {int(declared):,} bytes; this server takes "
                             f"at most {limits.max_body_bytes:,} (seqtasks serve --max-body-mb)")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_body_bytes:
                raise Error(413, f"the request body is over {limits.max_body_bytes:,} bytes "
                                 "(seqtasks serve --max-body-mb)")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise Error(400, f"the request body is not JSON: {error}") from None

    async def predict(request):
        servable = _servable(store, request)
        body = await read_json(request)
        try:
            parsed = tfjson.parse(body, servable.all_specs, limits)
        except tfjson.BadRequest as error:
            raise Error(400, str(error)) from None
        import tensorflow as tf

        try:
            outputs = await predict_outputs(servable, parsed)
        except (tf.errors.OpError, DataError, ValueError, TypeError) as error:
            # the model refused these inputs (bytes that are no image, say)
            raise Error(400, _op_message(error)) from None
        return JSONResponse(tfjson.answer(parsed, outputs))

    async def status(request):
        servable = _servable(store, request)
        return JSONResponse({"model_version_status": [{
            "version": str(servable.version), "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]})

    async def metadata(request):
        servable = _servable(store, request)
        return JSONResponse({
            "model_spec": {"name": servable.name, "signature_name": "",
                           "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": servable.signature_defs}}})

    async def models(request):
        answer = []
        for name in store.names():
            servable = store.get(name)
            answer.append({
                "name": name, "version": servable.version,
                **{k: servable.metadata[k] for k in PAGE_FACTS if k in servable.metadata},
                "signatures": {
                    k: {"inputs": {i: {"dtype": s.dtype.name, "shape": s.shape.as_list()}
                                   for i, s in servable.specs(k).items()},
                        "outputs": sorted(servable.signatures[k].structured_outputs)}
                    for k in servable.signatures}})
        return JSONResponse({"models": answer})

    async def static(request):
        name = request.path_params.get("file", "index.html")
        if name not in STATIC:
            raise Error(404, f"no page {name!r} here")
        content = resources.files("seqtasks.serving").joinpath("static", name).read_bytes()
        return Response(content, media_type=STATIC[name])

    async def on_error(request, error):
        return _error(error.status, str(error))

    async def on_http_error(request, error):
        return _error(error.status_code, error.detail or "not found")

    async def on_unexpected(request, error):
        return _error(500, f"the server failed: {type(error).__name__}: "
                           f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}")

    base = "/v1/models/{name}"
    routes = []
    for prefix in (base, base + "/versions/{version}"):
        routes += [Route(prefix + ":predict", predict, methods=["POST"]),
                   Route(prefix + "/metadata", metadata, methods=["GET"]),
                   Route(prefix, status, methods=["GET"])]
    routes += [Route("/", static, methods=["GET"]),
               Route("/static/{file}", static, methods=["GET"]),
               Route("/seqtasks/models", models, methods=["GET"])]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        executor.shutdown(wait=False)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        Error: on_error, HTTPException: on_http_error, Exception: on_unexpected})
    app.state.batchers = batchers
    app.state.store = store
    return app


_NOISE = re.compile(r"^(Graph execution error:|Detected at node|<stack traces|File |\[\[)")


def _op_message(error):
    """What a TensorFlow op error says, without the graph location lines."""
    message = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in str(message).splitlines()]
    lines = [re.sub(r"\s*\[Op:[^\]]*\]$", "", line) for line in lines
             if line and not _NOISE.match(line)]
    return lines[0] if lines else type(error).__name__
