"""Build the API reference: HTML pages from the docstrings (with pdoc), and a generated page of
every recipe's configuration keys and export signatures.

``python -m seqtasks.reference docs/api`` writes it (``pip install -e ".[test]"`` brings pdoc).
The keys come from each recipe's schema, the signatures from its ``documented_signatures``
(which the contract test checks against a real export), so the page never drifts from
``seqtasks show`` or the exports.
"""

import sys
import types
from pathlib import Path

#: What the reference documents (pdoc adds the public submodules of each: the layers, every
#: recipe's package).
MODULES = ("seqtasks", "seqtasks.recipes", "seqtasks.deployed", "seqtasks.runner",
           "seqtasks.scoring", "seqtasks.config", "seqtasks.errors", "seqtasks.generation",
           "seqtasks.decoding")
#: The generated page's module name.
PAGE = "seqtasks_recipes"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _key_rows(schema):
    rows = []
    for section, keys in schema.items():
        for name, key in keys.items():
            default = "(not set)" if key.default is None else repr(key.default)
            choices = f" One of {', '.join(map(repr, key.choices))}." if key.choices else ""
            rows.append(f"| `{section}.{name}` | `{_cell(default)}` | "
                        f"{_cell(key.help)}{_cell(choices)} |")
    return rows


def _signature_rows(signatures):
    rows = []
    for name, (inputs, outputs) in signatures.items():
        for side, fields in (("input", inputs), ("output", outputs)):
            for key, text in fields.items():
                kind, _, meaning = text.partition(": ")
                rows.append(f"| `{name}` | {side} | `{key}` | `{_cell(kind)}` | "
                            f"{_cell(meaning)} |")
    return rows


def recipes_page():
    """Markdown: each recipe's summary, its configuration keys (defaults and help, as ``seqtasks
    show`` gives them) and its export's signatures."""
    from seqtasks.recipes import list_recipes

    parts = ["Every recipe's configuration keys and export signatures, generated from the code.",
             "", "Set a key with `--set section.key=value`, in a TOML file, or in the "
             "`overrides` of `seqtasks.run`.", ""]
    for name, recipe in list_recipes().items():
        parts += [f"# {name}", "", recipe.description, "",
                  (recipe.__doc__ or "").strip().replace("\n    ", "\n"), "",
                  "## Signatures", "", "| signature | side | key | dtype [shape] | meaning |",
                  "|---|---|---|---|---|", *_signature_rows(recipe.documented_signatures), "",
                  "## Configuration keys", "", "| key | default | meaning |", "|---|---|---|",
                  *_key_rows(recipe.schema()), ""]
    return "\n".join(parts)


def build(output):
    """Write the reference into ``output`` (a folder); returns the path of its index page."""
    import importlib.machinery
    import os

    os.environ.setdefault("PDOC_ALLOW_EXEC", "1")  # our own modules; TensorFlow runs `uname`
    import pdoc

    page = types.ModuleType(PAGE, recipes_page())
    page.__spec__ = importlib.machinery.ModuleSpec(PAGE, None)
    sys.modules[PAGE] = page
    output = Path(output)
    pdoc.pdoc(*MODULES, PAGE, output_directory=output)
    return output / "index.html"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m seqtasks.reference OUTPUT_FOLDER")
    print(f"wrote: {build(sys.argv[1])}")
