// The page of `seqtasks serve`: one panel per served model, made for its recipe. Every panel
// calls this server's TF Serving REST API (POST /v1/models/<name>:predict) and shows the
// answer, or the server's {"error": ...} inside the panel. No libraries, works offline.
"use strict";

(function () {
  // ---- small DOM helpers ----------------------------------------------------------------

  /** An element: el("p", {class: "x", text: "hi", onclick: f, "data-a": 1}, child, ...). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.append(child);
    return node;
  }

  /** A mistake in the form, said in the panel before anything is sent. */
  class InputError extends Error {}

  function slug(text) {
    return String(text).replace(/[^A-Za-z0-9_-]/g, "-");
  }

  function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  /** A number for people: up to 4 decimals, no trailing zeros, a real minus sign. */
  function fmt(value, decimals = 4) {
    if (!Number.isFinite(value)) return String(value);
    const text = Number(value.toFixed(decimals)).toString();
    return text.replace(/^-/, "\u2212");
  }

  // ---- the server ------------------------------------------------------------------------

  function predictUrl(model) {
    return `/v1/models/${encodeURIComponent(model.name)}:predict`;
  }

  async function predict(model, body) {
    let response;
    try {
      response = await fetch(predictUrl(model), {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body),
      });
    } catch (error) {
      throw new Error(`Could not reach the server (${error.message}).`);
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      throw new Error(`The server answered ${response.status} ${response.statusText} ` +
                      "without JSON.");
    }
    if (!response.ok || (answer && answer.error !== undefined)) {
      throw new Error(answer && answer.error !== undefined ? String(answer.error)
                                                           : `HTTP ${response.status}`);
    }
    return answer;
  }

  /** The first example of a row-format answer. */
  function firstPrediction(answer) {
    if (!answer || !Array.isArray(answer.predictions) || !answer.predictions.length) {
      throw new Error("The server's answer has no predictions.");
    }
    return answer.predictions[0];
  }

  /** Output `name` of a columnar answer (the bare value when the signature has one output). */
  function column(answer, name) {
    const outputs = answer && answer.outputs;
    if (outputs && !Array.isArray(outputs) && typeof outputs === "object") return outputs[name];
    return outputs;
  }

  /** The request as shown under "Request": long b64 strings cut short. */
  function shownRequest(model, body) {
    const json = JSON.stringify(body, (key, value) => (
      key === "b64" && typeof value === "string" && value.length > 48
        ? `${value.slice(0, 48)}… (${value.length.toLocaleString()} characters)` : value), 2);
    return `POST ${predictUrl(model)}\n${json}`;
  }

  // ---- form parts ------------------------------------------------------------------------

  function field(id, label, control, hint) {
    return el("div", {class: "field"},
      el("label", {for: id, text: label}),
      control,
      hint ? el("p", {class: "hint", id: `${id}-hint`, text: hint}) : null);
  }

  function textArea(id, name, placeholder, rows = 3) {
    return el("textarea", {id, name, rows, placeholder, spellcheck: "false",
                           "aria-describedby": `${id}-hint`});
  }

  function numberInput(id, name, value, attrs) {
    return el("input", {id, name, type: "number", value, inputmode: "decimal", ...attrs});
  }

  function readNumber(input, label, {integer = false, min = -Infinity} = {}) {
    const text = input.value.trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      throw new InputError(`${label} must be ${integer ? "a whole number" : "a number"}` +
                           `; found "${input.value}".`);
    }
    if (value < min) throw new InputError(`${label} must be at least ${min}; found ${value}.`);
    return value;
  }

  function required(textarea, what) {
    if (!textarea.value.trim()) {
      textarea.focus();
      throw new InputError(`Write ${what} first.`);
    }
    return textarea.value;
  }

  // ---- tag colours -----------------------------------------------------------------------

  // Fixed hues for the tags of Universal Dependencies and the usual entity types, so that the
  // colours are the same in every panel and every session; other tags get a hue from a hash.
  const TAG_HUES = {
    NOUN: 210, PROPN: 190, PRON: 235, VERB: 5, AUX: 25, ADJ: 130, ADV: 95, ADP: 280,
    DET: 45, NUM: 330, CCONJ: 260, SCONJ: 300, PART: 160, INTJ: 345, PUNCT: null, SYM: 60,
    X: null, PER: 5, PERSON: 5, LOC: 130, GPE: 150, ORG: 210, MISC: 280, DATE: 45, TIME: 60,
  };
  const NEUTRAL_TAGS = new Set(["O", "_", "", "PUNCT", "X"]);

  /** The entity type of a BIO/BIOES tag ("B-PER" -> "PER"), or the tag itself. */
  function tagBase(tag) {
    return String(tag).replace(/^[BIESL]-(?=.)/, "");
  }

  function tagHue(tag) {
    const base = tagBase(tag);
    if (NEUTRAL_TAGS.has(base)) return null;
    if (TAG_HUES[base] !== undefined) return TAG_HUES[base];
    let hash = 2166136261;  // FNV-1a
    for (const ch of base) hash = Math.imul(hash ^ ch.codePointAt(0), 16777619);
    return ((hash >>> 0) % 24) * 15;
  }

  function tagStyle(tag) {
    const hue = tagHue(tag);
    if (hue === null) return "--tag-bg: var(--neutral-bg); --tag-fg: var(--neutral-fg)";
    return `--tag-bg: hsl(${hue} 80% 88%); --tag-fg: hsl(${hue} 60% 28%)`;
  }

  // ---- forecast chart --------------------------------------------------------------------

  function forecastChart(values, forecast) {
    const width = 560, height = 200;
    const pad = {left: 48, right: 14, top: 14, bottom: 26};
    const all = values.concat(forecast);
    let low = Math.min(...all), high = Math.max(...all);
    if (low === high) { low -= 1; high += 1; }
    const margin = (high - low) * 0.08;
    low -= margin; high += margin;
    const count = values.length + forecast.length;
    // the forecast gets at least a tenth of the width, even of one step
    const span = values.length + Math.max(forecast.length, Math.ceil(values.length / 10));
    const x = (i) => pad.left + (i / Math.max(span - 1, 1)) * (width - pad.left - pad.right);
    const y = (v) => pad.top + (1 - (v - low) / (high - low)) * (height - pad.top - pad.bottom);
    const points = (list, start) => list.map((v, i) => `${x(start + i).toFixed(1)},` +
                                                       `${y(v).toFixed(1)}`).join(" ");
    const last = values.length - 1;
    const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
                              "aria-label": `The last ${values.length} values and the ` +
                                            `forecast of the next ${forecast.length}`});
    chart.append(svg("title", {}, document.createTextNode(
      `input: ${values.length} values; forecast: ${forecast.map((v) => fmt(v)).join(", ")}`)));
    for (let t = 0; t <= 3; t++) {  // horizontal grid lines with their values
      const v = low + (t / 3) * (high - low);
      chart.append(svg("line", {x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v),
                                class: "grid"}));
      chart.append(svg("text", {x: pad.left - 6, y: y(v) + 4, class: "axis",
                                "text-anchor": "end"}, document.createTextNode(fmt(v, 2))));
    }
    chart.append(svg("rect", {x: x(last), y: pad.top, width: width - pad.right - x(last),
                              height: height - pad.top - pad.bottom, class: "ahead"}));
    chart.append(svg("line", {x1: x(last), x2: x(last), y1: pad.top,
                              y2: height - pad.bottom, class: "now"}));
    chart.append(svg("text", {x: x(last) - 4, y: pad.top + 8, class: "axis",
                              "text-anchor": "end"}, document.createTextNode("now")));
    for (const [i, text] of [[0, `\u2212${last}`], [count - 1, `+${forecast.length}`]]) {
      chart.append(svg("text", {x: x(i), y: height - 8, class: "axis",
                                "text-anchor": i === 0 ? "start" : "middle"},
                       document.createTextNode(text)));
    }
    chart.append(svg("polyline", {points: points(values, 0), class: "series-line"}));
    chart.append(svg("polyline", {points: points([values[last], ...forecast], last),
                                  class: "forecast-line"}));
    forecast.forEach((v, i) => chart.append(
      svg("circle", {cx: x(last + 1 + i), cy: y(v), r: 3.5, class: "forecast-point"})));
    return chart;
  }

  /** Numbers from pasted text: commas, semicolons, spaces or new lines between them. */
  function parseNumbers(text) {
    const tokens = text.split(/[\s,;]+/).filter(Boolean);
    return tokens.map((token) => {
      const value = Number(token);
      if (!Number.isFinite(value)) throw new InputError(`"${token}" is not a number.`);
      return value;
    });
  }

  /** The numbers of one column of a CSV text: the `target` column when the header names it,
   *  otherwise the last column holding numbers. Returns {values, column}. */
  function csvColumn(text, target) {
    const lines = text.split(/\r?\n/).filter((line) => line.trim());
    if (!lines.length) throw new InputError("The CSV file is empty.");
    const delimiter = ["\t", ";", ","].find((d) => lines[0].includes(d)) || ",";
    const rows = lines.map((line) => line.split(delimiter).map((cell) =>
      cell.trim().replace(/^"(.*)"$/, "$1")));
    const isNumber = (cell) => cell !== "" && Number.isFinite(Number(cell));
    const header = rows[0].some((cell) => cell && !isNumber(cell)) ? rows.shift() : null;
    let index = header && target ? header.indexOf(target) : -1;
    if (index < 0) {
      const width = Math.max(...rows.map((row) => row.length));
      for (let i = width - 1; i >= 0 && index < 0; i--) {
        if (rows.some((row) => isNumber(row[i] || ""))) index = i;
      }
    }
    if (index < 0) throw new InputError("No column of numbers in the CSV file.");
    const values = rows.map((row) => row[index] || "").filter(isNumber).map(Number);
    return {values, column: header ? header[index] : `column ${index + 1}`};
  }

  // ---- the recipes -----------------------------------------------------------------------

  // Each recipe: label, about (one line), button, and build(model, id, report) (report(message)
  // shows a problem in the panel) returning
  // {fields: [nodes], actions: [extra buttons], body: async () => request,
  //  render: (answer, result) => void}.
  const RECIPES = {};

  RECIPES.smart_reply = {
    label: "Smart reply",
    about: "Suggests replies to a message, with the model's probability of each.",
    button: "Suggest replies",
    build(model, id) {
      const message = textArea(`${id}-text`, "text", "e.g. I can't log in to my account");
      return {
        fields: [field(message.id, "Message", message,
                       `The ${model.top_k || "top"} most likely replies are shown.`)],
        body: () => ({instances: [required(message, "a message")]}),
        render(answer, result) {
          const row = firstPrediction(answer);
          if (row.abstained === true) {  // under export.min_score, or the out-of-scope label
            result.append(el("p", {class: "abstained", text: "No reply: the model is not " +
              "sure enough (or the message is out of scope). Its best guesses:"}));
          }
          const list = el("ol", {class: "replies"});
          row.replies.forEach((reply, i) => {
            const score = Number(row.scores[i]);
            const label = row.labels ? row.labels[i] : "";
            const width = Math.max(0, Math.min(1, score)) * 100;
            list.append(el("li", {class: "reply", "data-score": score, "data-label": label},
              el("div", {class: "reply-line"},
                el("span", {class: "reply-text", text: reply || `(${row.labels[i]})`}),
                el("span", {class: "reply-score", text: `${(score * 100).toFixed(1)}%`})),
              el("div", {class: "bar", "aria-hidden": "true"},
                el("span", {class: "bar-fill", style: `width: ${width.toFixed(2)}%`})),
              label ? el("span", {class: "reply-label", text: label}) : null));
          });
          result.append(list);
        },
      };
    },
  };

  RECIPES.tagging = {
    label: "Tagging",
    about: "Tags each token of a sentence; hover a token for its tag.",
    button: "Tag",
    build(model, id) {
      const text = el("input", {id: `${id}-text`, name: "text", type: "text",
                                placeholder: "e.g. The cat sat on the mat .",
                                spellcheck: "false", autocomplete: "off"});
      return {
        fields: [field(text.id, "Sentence", text)],
        body: () => ({instances: [required(text, "a sentence")]}),
        render(answer, result) {
          const row = firstPrediction(answer);
          const n = Number.isInteger(row.lengths) ? row.lengths : row.tokens.length;
          const tokens = row.tokens.slice(0, n), tags = row.tags.slice(0, n);
          const line = el("p", {class: "tagged"});
          tokens.forEach((token, i) => line.append(
            el("span", {class: "token", "data-tag": tags[i], title: tags[i],
                        style: tagStyle(tags[i])},
              el("span", {class: "token-text", text: token}),
              el("span", {class: "token-tag", text: tags[i]}))));
          const legend = el("ul", {class: "legend", "aria-label": "Tags"});
          for (const tag of [...new Set(tags)].sort()) {
            legend.append(el("li", {class: "legend-item", "data-tag": tag,
                                    style: tagStyle(tag)},
              el("span", {class: "swatch", "aria-hidden": "true"}), tag));
          }
          result.append(line, legend);
        },
      };
    },
  };

  RECIPES.translation = {
    label: "Translation",
    about: "Translates a text; the score is the sum of the log-probabilities of its tokens.",
    button: "Translate",
    build(model, id) {
      const text = textArea(`${id}-text`, "text", "e.g. Where is the station?");
      const decode = model.decode || {};
      const how = decode.strategy === "beam" ? `Beam search, ${decode.beam_width} beams.`
        : decode.strategy ? `${decode.strategy} decoding.` : null;
      return {
        fields: [field(text.id, "Text", text, how)],
        body: () => ({instances: [required(text, "a text")]}),
        render(answer, result) {
          const row = firstPrediction(answer);
          const score = Number(row.score);
          result.append(
            el("p", {class: "translation", text: row.translation}),
            el("p", {class: "score-line"},
              "score ",
              el("span", {class: "score", "data-score": score,
                          title: "sum of the log-probabilities of the translation's tokens " +
                                 "(closer to 0: more likely)", text: fmt(score, 3)})));
        },
      };
    },
  };

  RECIPES.captioning = {
    label: "Captioning",
    about: "Describes a picture in a sentence.",
    button: "Caption",
    build(model, id) {
      let file = null;
      const input = el("input", {id: `${id}-image`, name: "image", type: "file",
                                 class: "file-input", accept: "image/jpeg,image/png"});
      const preview = el("img", {class: "preview", alt: "", hidden: true});
      const note = el("span", {class: "file-name", text: "No image chosen."});
      const zone = el("label", {class: "dropzone", for: input.id},
        el("span", {class: "dropzone-text"}, el("strong", {text: "Drop a JPEG or PNG here"}),
           " or click to choose one"),
        note);
      preview.addEventListener("error", () => {
        preview.hidden = true;
        note.textContent = `${file ? file.name : "This file"}: the browser cannot show it ` +
                           "as a picture.";
      });
      function choose(chosen) {
        file = chosen || null;
        if (preview.src) URL.revokeObjectURL(preview.src);
        preview.removeAttribute("src");
        preview.hidden = !file;
        if (!file) { note.textContent = "No image chosen."; return; }
        note.textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB)`;
        preview.alt = `The picture to caption: ${file.name}`;
        preview.src = URL.createObjectURL(file);
      }
      input.addEventListener("change", () => choose(input.files[0]));
      for (const name of ["dragenter", "dragover"]) {
        zone.addEventListener(name, (event) => {
          event.preventDefault();
          zone.classList.add("dragging");
        });
      }
      for (const name of ["dragleave", "drop"]) {
        zone.addEventListener(name, () => zone.classList.remove("dragging"));
      }
      zone.addEventListener("drop", (event) => {
        event.preventDefault();
        if (event.dataTransfer && event.dataTransfer.files.length) {
          choose(event.dataTransfer.files[0]);
        }
      });
      return {
        fields: [el("div", {class: "field"},
                    el("span", {class: "field-label", text: "Image"}), zone, input,
                    el("div", {class: "preview-frame"}, preview))],
        async body() {
          if (!file) throw new InputError("Choose or drop an image first.");
          return {instances: [{b64: toBase64(await file.arrayBuffer())}]};
        },
        render(answer, result) {
          result.append(el("p", {class: "caption", text: firstPrediction(answer)}));
        },
      };
    },
  };

  RECIPES.language_model = {
    label: "Language model",
    about: "Continues a prompt, sampling one token at a time.",
    button: "Generate",
    build(model, id) {
      const facts = model.generate || {};
      const hasGenerate = Boolean(model.signatures && model.signatures.generate);
      const prompt = textArea(`${id}-prompt`, "prompt", "e.g. Once upon a time", 3);
      const length = numberInput(`${id}-length`, "length", facts.length ?? 50,
                                 {min: 1, step: 1, inputmode: "numeric"});
      const temperature = numberInput(`${id}-temperature`, "temperature",
                                      facts.temperature ?? 1, {min: 0, step: 0.05});
      const topK = numberInput(`${id}-top_k`, "top_k", facts.top_k ?? 0,
                               {min: 0, step: 1, inputmode: "numeric"});
      const seed = numberInput(`${id}-seed`, "seed", facts.seed ?? 0,
                               {step: 1, inputmode: "numeric"});
      const fields = [field(prompt.id, "Prompt", prompt)];
      if (hasGenerate) {
        fields.push(el("div", {class: "field-row"},
          field(length.id, "Length", length, "tokens to add"),
          field(temperature.id, "Temperature", temperature, "0: the likeliest"),
          field(topK.id, "Top k", topK, "0: all tokens"),
          field(seed.id, "Seed", seed, "fixes the draw")));
      }
      let sent = "";
      return {
        fields,
        body() {
          sent = prompt.value;
          if (!hasGenerate) return {instances: [sent]};
          return {signature_name: "generate", inputs: {
            prompt: [sent],
            length: readNumber(length, "Length", {integer: true, min: 1}),
            temperature: readNumber(temperature, "Temperature", {min: 0}),
            top_k: readNumber(topK, "Top k", {integer: true, min: 0}),
            seed: readNumber(seed, "Seed", {integer: true}),
          }};
        },
        render(answer, result) {
          const text = String(hasGenerate ? column(answer, "text")[0]
                                          : firstPrediction(answer));
          const out = el("p", {class: "generated"});
          if (sent && text.startsWith(sent)) {
            out.append(el("span", {class: "prompt-part", text: sent}),
                       el("span", {class: "continuation", text: text.slice(sent.length)}));
          } else {
            out.append(el("span", {class: "continuation", text}));
          }
          result.append(out);
        },
      };
    },
  };

  RECIPES.forecasting = {
    label: "Forecasting",
    about: "Forecasts the next values of a series from its latest ones.",
    button: "Forecast",
    build(model, id, report) {
      const spec = model.signatures.serving_default.inputs.values;
      const size = model.window || (spec && spec.shape[1]) || 1;
      const target = model.target || (model.columns || [])[0];
      const values = textArea(`${id}-values`, "values",
                              "e.g. 12.1, 12.4, 13.0, 12.8 … (commas, spaces or new lines)", 4);
      const counter = el("span", {class: "counter", "aria-live": "polite"});
      const csv = el("input", {id: `${id}-csv`, name: "csv", type: "file", class: "csv-input",
                               accept: ".csv,.tsv,.txt,text/csv,text/plain"});
      const example = el("button", {type: "button", class: "example secondary",
                                    text: "Example series"});
      function count() {
        const n = values.value.split(/[\s,;]+/).filter(Boolean).length;
        counter.textContent = n ? `${n} value${n === 1 ? "" : "s"}` +
          (n > size ? `; the last ${size} are used` : n < size
            ? `; ${size - n} more needed` : "") : "";
      }
      values.addEventListener("input", count);
      example.addEventListener("click", () => {
        const series = Array.from({length: size}, (_, i) =>
          fmt(10 + 3 * Math.sin(i / 3) + i * 0.05, 2).replace("\u2212", "-"));
        values.value = series.join(", ");
        count();
      });
      let csvNote = null;
      csv.addEventListener("change", async () => {
        const chosen = csv.files[0];
        if (!chosen) return;
        let numbers, name;
        try {
          ({values: numbers, column: name} = csvColumn(await chosen.text(), target));
        } catch (problem) {
          report(`${chosen.name}: ${problem.message}`);
          return;
        }
        values.value = numbers.slice(-size).join("\n");
        count();
        csvNote.textContent = `${chosen.name}: the last ${Math.min(size, numbers.length)} ` +
                              `of ${numbers.length} values of "${name}".`;
      });
      csvNote = el("p", {class: "hint csv-note", id: `${id}-csv-hint`,
                         text: target ? `A CSV file's "${target}" column, or its last column ` +
                                        "of numbers." : "The last column of numbers."});
      csv.setAttribute("aria-describedby", csvNote.id);
      let sent = [];
      return {
        fields: [
          field(values.id, `Values (the model reads the last ${size})`, values),
          el("div", {class: "field-row"}, counter),
          el("div", {class: "field"},
            el("label", {for: csv.id, text: "…or take them from a CSV file"}), csv, csvNote),
        ],
        actions: [example],
        body() {
          const numbers = parseNumbers(values.value);
          if (numbers.length < size) {
            throw new InputError(`The model reads ${size} values; found ${numbers.length}.`);
          }
          sent = numbers.slice(-size);
          return {instances: [sent]};
        },
        render(answer, result) {
          const forecast = [].concat(firstPrediction(answer)).map(Number);
          const list = el("ol", {class: "forecast-values"});
          forecast.forEach((v, i) => list.append(
            el("li", {class: "forecast-value", "data-value": v},
              el("span", {class: "step", text: `+${i + 1}`}),
              el("span", {class: "number", text: fmt(v)}))));
          result.append(
            forecastChart(sent, forecast),
            el("div", {class: "chart-legend", "aria-hidden": "true"},
              el("span", {class: "key series", text: "input"}),
              el("span", {class: "key forecast", text: "forecast"})),
            list);
        },
      };
    },
  };

  /** A model of a recipe this page does not know: a JSON request and the raw answer. */
  const GENERIC = {
    label: "Model",
    about: "Send a TF Serving request body; the answer is shown as it comes.",
    button: "Predict",
    build(model, id) {
      const inputs = (model.signatures.serving_default || {}).inputs || {};
      const names = Object.keys(inputs);
      const sample = names.length === 1 ? {instances: [inputs[names[0]].dtype === "string"
                                                      ? "" : 0]}
        : {inputs: Object.fromEntries(names.map((n) => [n, []]))};
      const body = textArea(`${id}-body`, "body", "", 6);
      body.value = JSON.stringify(sample);
      return {
        fields: [field(body.id, "Request (JSON)", body)],
        body() {
          try {
            return JSON.parse(body.value);
          } catch (error) {
            throw new InputError(`The request is not JSON: ${error.message}`);
          }
        },
        render(answer, result) {
          result.append(el("pre", {class: "raw", text: JSON.stringify(answer, null, 2)}));
        },
      };
    },
  };

  // ---- panels ----------------------------------------------------------------------------

  function panel(model) {
    const recipe = RECIPES[model.recipe] || GENERIC;
    const id = `panel-${slug(model.name)}`;
    const ui = recipe.build(model, id, showError);
    const submit = el("button", {type: "submit", class: "submit", text: recipe.button});
    const error = el("div", {class: "error", role: "alert", hidden: true});
    const result = el("div", {class: "result", "aria-live": "polite", hidden: true});
    const requestText = el("pre", {class: "request-body"});
    const request = el("details", {class: "request", hidden: true},
                       el("summary", {text: "Request"}), requestText);
    const form = el("form", {class: "panel-form", novalidate: true},
                    ui.fields, el("div", {class: "actions"}, submit, ui.actions || []));
    const section = el("section", {
      class: "panel", id, "data-model": model.name, "data-recipe": model.recipe || "",
      "data-version": model.version, "data-state": "idle", "aria-labelledby": `${id}-title`},
      el("header", {class: "panel-header"},
        el("h2", {id: `${id}-title`, class: "model-name", text: model.name}),
        el("span", {class: "version", title: "version", text: `v${model.version}`}),
        el("span", {class: "recipe", text: recipe === GENERIC ? (model.recipe || "model")
                                                             : recipe.label})),
      el("p", {class: "about", text: recipe.about}),
      form, error, result, request);

    function showError(message) {
      error.textContent = message;
      error.hidden = false;
      result.hidden = true;
      section.dataset.state = "error";
    }

    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (section.dataset.state === "busy") return;
      error.hidden = true;
      error.textContent = "";
      let body;
      try {
        body = await ui.body();
      } catch (problem) {
        showError(problem.message);
        return;
      }
      section.dataset.state = "busy";
      section.setAttribute("aria-busy", "true");
      submit.disabled = true;
      requestText.textContent = shownRequest(model, body);
      request.hidden = false;
      try {
        const answer = await predict(model, body);
        const fresh = el("div");
        ui.render(answer, fresh);
        result.replaceChildren(...fresh.childNodes);
        result.hidden = false;
        section.dataset.state = "done";
      } catch (problem) {
        showError(problem.message);
      } finally {
        submit.disabled = false;
        section.removeAttribute("aria-busy");
      }
    });
    return section;
  }

  async function main() {
    const status = document.getElementById("status");
    const panels = document.getElementById("panels");
    let models;
    try {
      const response = await fetch("/seqtasks/models");
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
      models = answer.models;
    } catch (problem) {
      status.textContent = `Could not load the list of models: ${problem.message}`;
      status.classList.add("status-error");
      return;
    }
    if (!models.length) {
      status.textContent = "No models are served.";
      return;
    }
    status.textContent = `${models.length} model${models.length === 1 ? "" : "s"} served: ` +
                         models.map((m) => `${m.name} v${m.version}`).join(", ");
    panels.replaceChildren(...models.map(panel));
    document.body.dataset.ready = "true";
  }

  main();
})();
