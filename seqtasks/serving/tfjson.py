"""TF Serving's REST predict format: JSON requests -> NumPy inputs, NumPy outputs -> JSON.

Row format: ``{"instances": [...]}`` (one entry per example; an object naming each input when
the signature takes several) answered by ``{"predictions": [...]}``. Columnar format:
``{"inputs": value or {name: value}}`` (a batch per input; scalars for scalar inputs)
answered by ``{"outputs": value or {name: value}}``. Bytes travel as ``{"b64": "..."}``;
string outputs that are not UTF-8, or whose name ends in ``_bytes``, are sent that way too.
"""

import base64
import binascii
import dataclasses
import numbers

import numpy as np


class BadRequest(ValueError):
    """A request the server answers with 400 and ``{"error": message}``."""

    status = 400


@dataclasses.dataclass
class Limits:
    """Per-request limits (the body size is checked before the JSON is read)."""

    max_body_bytes: int = 10 * 2**20
    max_instances: int = 256
    max_text_chars: int = 20_000


@dataclasses.dataclass
class Request:
    signature_name: str
    inputs: dict  # name -> np.ndarray (strings as object arrays of bytes)
    rows: int  # examples in the batch (1 when every input is a scalar)
    columnar: bool


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _binary(name):
    return name == "image" or name.endswith("_bytes")


def _leaves(value, name):
    """``value`` with ``{"b64": ...}`` decoded, nested lists kept."""
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise BadRequest(f"input {name!r}: a \"b64\" value that is not base64") from None
    if isinstance(value, list):
        return [_leaves(v, name) for v in value]
    if isinstance(value, dict):
        raise BadRequest(f"input {name!r}: found an object where a value was expected "
                         "(bytes are {\"b64\": \"...\"})")
    return value


def _flat(value):
    if isinstance(value, list):
        for v in value:
            yield from _flat(v)
    else:
        yield value


def _array(name, value, spec, limits):
    """The NumPy value of input ``name`` for ``spec``; a :class:`BadRequest` if it does not fit."""
    dtype = spec.dtype
    if type(value) is list and all(type(v) is str for v in value):  # a batch of texts
        leaves = value
    else:
        value = _leaves(value, name)
        leaves = list(_flat(value))
    if dtype.name == "string":
        if not all(isinstance(v, (str, bytes)) for v in leaves):
            raise BadRequest(f"input {name!r}: expected strings (DT_STRING), found "
                             f"{_kind(leaves, (str, bytes))}")
        if not _binary(name):
            for i, v in enumerate(leaves):
                if isinstance(v, str) and len(v) > limits.max_text_chars:
                    raise BadRequest(
                        f"input {name!r}: a text of {len(v):,} characters (value {i}); this "
                        f"server takes at most {limits.max_text_chars:,} per text "
                        f"(seqtasks serve --max-text-chars)")
        if leaves is value:
            array = np.empty(len(value), dtype=object)
            array[:] = [v.encode("utf-8") for v in value]
        else:
            try:
                array = np.array(value, dtype=object)
            except ValueError:
                array = None
            if array is None or any(isinstance(v, list) for v in array.flat):
                raise BadRequest(f"input {name!r}: rows of different lengths")
            encoded = np.empty(array.shape, dtype=object)
            encoded.flat[:] = [v.encode("utf-8") if isinstance(v, str) else v
                               for v in array.flat]
            array = encoded
    else:
        numeric = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in leaves)
        if not numeric:
            raise BadRequest(f"input {name!r}: expected numbers ({_dt(dtype)}), found "
                             f"{_kind(leaves, numbers.Number)}")
        try:
            array = np.asarray(value, dtype=dtype.as_numpy_dtype)
        except (ValueError, OverflowError):
            raise BadRequest(f"input {name!r}: rows of different lengths, or numbers out of "
                             f"{_dt(dtype)} range") from None
    if not _fits(array.shape, spec):
        raise BadRequest(f"input {name!r}: shape {list(array.shape)} does not fit the "
                         f"signature's {_shape(spec.shape)} (-1: any)")
    return array


_DIMS = {}  # id(spec) -> (spec, its sizes): specs are looked up once per served signature


def _dims(spec):
    """``spec``'s sizes as a tuple (None: any), or None if even its rank is unknown."""
    known = _DIMS.get(id(spec))
    if known is None or known[0] is not spec:  # hashing a TensorSpec costs more than this
        if len(_DIMS) > 1024:
            _DIMS.clear()
        known = _DIMS[id(spec)] = (
            spec, None if spec.shape.rank is None else tuple(spec.shape.as_list()))
    return known[1]


def _fits(shape, spec):
    dims = _dims(spec)
    return dims is None or (len(shape) == len(dims) and all(
        d is None or d == n for d, n in zip(dims, shape)))


def _dt(dtype):
    """TF Serving's name of a dtype (``DT_FLOAT``, ``DT_STRING``)."""
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(dtype.as_datatype_enum)


def _shape(shape):
    return [-1 if d is None else d for d in shape.as_list()]


def _kind(leaves, expected):
    for v in leaves:
        if not isinstance(v, expected) or isinstance(v, bool):
            return f"{type(v).__name__} {v!r:.40}"
    return "nothing"


def parse(body, signatures, limits):
    """A :class:`Request` from a decoded JSON ``body``; ``signatures`` maps names to
    ``{input: tf.TensorSpec}``."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object with \"instances\" or "
                         "\"inputs\"")
    name = body.get("signature_name", "serving_default")
    if name not in signatures:
        raise BadRequest(f"Serving signature name: \"{name}\" not found in signature def "
                         f"(this model has: {', '.join(sorted(signatures))})")
    specs = signatures[name]
    if ("instances" in body) == ("inputs" in body):
        raise BadRequest("the request must have exactly one of \"instances\" (row format) "
                         "and \"inputs\" (columnar format)")
    columnar = "inputs" in body
    raw = _named(body["inputs"], specs) if columnar else _rows(body["instances"], specs, limits)
    unknown, missing = sorted(set(raw) - set(specs)), sorted(set(specs) - set(raw))
    if unknown or missing:
        raise BadRequest(f"inputs {sorted(raw)} do not match the signature's {sorted(specs)}"
                         + (f": unknown {unknown}" if unknown else "")
                         + (f": missing {missing}" if missing else ""))
    inputs = {k: _array(k, raw[k], specs[k], limits) for k in specs}
    sizes = {k: v.shape[0] for k, v in inputs.items() if v.ndim}
    if len(set(sizes.values())) > 1:
        raise BadRequest(f"inputs have different batch sizes: {sizes}")
    rows = next(iter(sizes.values()), 1)
    if sizes and rows == 0:
        raise BadRequest("the request holds no examples (an empty list)")
    if rows > limits.max_instances:
        raise BadRequest(f"{rows} examples in one request; this server takes at most "
                         f"{limits.max_instances} (seqtasks serve --max-instances)")
    return Request(name, inputs, rows, columnar)


def _named(value, specs):
    if isinstance(value, dict) and not _is_b64(value):
        return value
    if len(specs) != 1:
        raise BadRequest(f"the signature takes {sorted(specs)}; \"inputs\" must be an object "
                         "naming each of them")
    return {next(iter(specs)): value}


def _rows(instances, specs, limits):
    if not isinstance(instances, list):
        raise BadRequest("\"instances\" must be a list, one entry per example")
    if not instances:
        raise BadRequest("the request holds no examples (\"instances\" is an empty list)")
    if len(instances) > limits.max_instances:
        raise BadRequest(f"{len(instances)} examples in one request; this server takes at most "
                         f"{limits.max_instances} (seqtasks serve --max-instances)")
    scalars = sorted(k for k, spec in specs.items() if spec.shape.rank == 0)
    if scalars:
        raise BadRequest(f"inputs {scalars} are scalars; send this signature's inputs in the "
                         "columnar format (\"inputs\")")
    objects = [isinstance(i, dict) and not _is_b64(i) for i in instances]
    if all(objects):
        names = set(instances[0])
        for i, instance in enumerate(instances):
            if set(instance) != names:
                raise BadRequest(f"instance {i} names inputs {sorted(instance)}; instance 0 "
                                 f"names {sorted(names)}")
        return {k: [instance[k] for instance in instances] for k in names}
    if any(objects) or len(specs) != 1:
        raise BadRequest(f"the signature takes {sorted(specs)}; each instance must be an "
                         "object naming them" if len(specs) != 1 else
                         "instances mix objects and plain values")
    return {next(iter(specs)): instances}


def _json_value(value, name):
    if isinstance(value, np.ndarray):
        # numbers and booleans become Python's in one NumPy pass; strings need a look each
        return value.tolist() if value.dtype != object else _json_value(value.tolist(), name)
    if isinstance(value, list):
        return [_json_value(v, name) for v in value]
    if isinstance(value, bytes):
        if not name.endswith("_bytes"):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.generic):
        return value.item()
    return value


def answer(request, outputs):
    """TF Serving's JSON answer to ``request`` from ``{output: np.ndarray}``."""
    if request.columnar:
        out = {k: _json_value(np.asarray(v), k) for k, v in outputs.items()}
        return {"outputs": next(iter(out.values())) if len(out) == 1 else out}
    columns = {k: _json_value(np.asarray(v), k) for k, v in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    return {"predictions": [{k: columns[k][i] for k in columns} for i in range(request.rows)]}
