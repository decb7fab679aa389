"""Run the server: find and load the models, then serve them with uvicorn until interrupted."""

import gc
import ipaddress

from seqtasks.errors import ConfigError
from seqtasks.serving.batching import MAX_BATCH_SIZE
from seqtasks.serving.models import ModelStore
from seqtasks.serving.tfjson import Limits


def check_options(port, max_batch_size, batch_timeout_ms, poll_seconds, limits):
    checks = [("--port", port, 1 <= port <= 65535, "1-65535"),
              ("--max-batch-size", max_batch_size, max_batch_size >= 1, "a positive number"),
              ("--batch-timeout-ms", batch_timeout_ms, batch_timeout_ms >= 0, "0 or more"),
              ("--poll-seconds", poll_seconds, poll_seconds >= 0, "0 (never) or more"),
              ("--max-instances", limits.max_instances, limits.max_instances >= 1,
               "a positive number"),
              ("--max-body-mb", limits.max_body_bytes, limits.max_body_bytes > 0,
               "a positive number"),
              ("--max-text-chars", limits.max_text_chars, limits.max_text_chars >= 1,
               "a positive number")]
    for option, value, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{option}: expected {expected}, found {value}")


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(path, host="127.0.0.1", port=8501, name=None, max_batch_size=MAX_BATCH_SIZE,
          batch_timeout_ms=2.0, batching=True, poll_seconds=1.0, limits=None, echo=print):
    """Serve the exports under ``path`` until interrupted (see ``seqtasks serve --help``)."""
    import uvicorn

    from seqtasks.serving.app import create_app

    limits = limits or Limits()
    check_options(port, max_batch_size, batch_timeout_ms, poll_seconds, limits)
    store = ModelStore(path, name=name, poll_seconds=poll_seconds, log=echo).start()
    if not store.names():
        raise ConfigError(f"{path}: none of the exports here could be loaded (see above)")
    app = create_app(store, limits, max_batch_size=max_batch_size,
                     batch_timeout=batch_timeout_ms / 1000, batching=batching)
    if not is_loopback(host):
        echo(f"warning: listening on {host}, reachable from other machines; the server has no "
             "authentication")
    shown = f"[{host}]" if ":" in host else host
    echo(f"page: http://{shown}:{port}/   REST: http://{shown}:{port}/v1/models/<name>:predict "
         "(Ctrl+C stops)")
    gc.freeze()  # the loaded models' objects: never scanned by the collector while serving
    # requests make short-lived objects by the thousand: collect them less often
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    try:
        # no proxy-headers middleware: a local server, and it costs every request time
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                    access_log=False, server_header=False)
    finally:
        store.stop()
