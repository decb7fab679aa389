"""The page of ``seqtasks serve`` in a real headless Chromium: for each recipe, fill its panel,
submit, and check what the page shows against the SavedModel signature called directly; errors
shown in the panel. Writes a screenshot of each panel to ``docs/images/serve-<recipe>.png``."""

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import png, serving

# a real browser: behind the slow marker, so the fast loop stays fast; .ci/run runs it
pytestmark = pytest.mark.slow

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "images"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT = 30  # seconds a panel may take to answer (the first call of a signature traces it)


def _find_browser():
    binary = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


def _install_browser():
    """Debian's ``chromium chromium-driver`` through apt-get, when this user may install."""
    if not shutil.which("apt-get"):
        return
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"],
                                                 capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]
    try:
        if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode:
            subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, capture_output=True,
                           timeout=300)
            subprocess.run(install, env=env, capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        pass


@pytest.fixture(scope="module")
def driver():
    found = _find_browser()
    if found is None:
        _install_browser()
        found = _find_browser()
    if found is None:
        pytest.skip("no Chromium and chromedriver here and none could be installed "
                    "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1600",
                     "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=found[1]))
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def url(served_exports):
    """The server on the exports, in a thread of this process."""
    from seqtasks.serving.app import create_app
    from seqtasks.serving.models import ModelStore

    store = ModelStore(served_exports[0], poll_seconds=0, log=lambda line: None).start()
    with serving(create_app(store)) as address:
        yield address
    store.stop()


@pytest.fixture(scope="module")
def page(driver, url):
    """The browser on the page, its panels drawn."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
    return driver


@pytest.fixture(scope="module")
def direct(direct_call):
    return direct_call


# ---- driving a panel -------------------------------------------------------------------------

def panel(page, recipe):
    from selenium.webdriver.common.by import By

    return page.find_element(By.CSS_SELECTOR, f'.panel[data-model="{recipe}"]')


def find(element, selector):
    from selenium.webdriver.common.by import By

    return element.find_element(By.CSS_SELECTOR, selector)


def find_all(element, selector):
    from selenium.webdriver.common.by import By

    return element.find_elements(By.CSS_SELECTOR, selector)


def fill(element, text):
    element.clear()
    element.send_keys(text)


def submit(page, section, expect="done"):
    """Click the panel's button and wait for its answer (or error); returns the panel."""
    from selenium.webdriver.support.ui import WebDriverWait

    page.execute_script("arguments[0].dataset.state = 'idle'", section)
    find(section, ".submit").click()
    WebDriverWait(page, WAIT).until(
        lambda d: section.get_attribute("data-state") in ("done", "error"))
    state = section.get_attribute("data-state")
    if state != expect:
        shown = find(section, ".error").get_attribute("textContent")
        raise AssertionError(f"panel {section.get_attribute('data-model')}: {state} ({shown})")
    return section


def screenshot(section, recipe):
    SHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(str(SHOTS / f"serve-{recipe}.png"))


def text_of(element):
    return element.get_attribute("textContent")


def strings(array):
    return [v.decode("utf-8") for v in np.asarray(array).ravel()]


def metadata(served_exports, recipe):
    """The export's seqtasks.json (what the page is told of the model)."""
    from seqtasks.export import METADATA

    return json.loads((served_exports[1][recipe] / METADATA).read_text())


# ---- the tests -------------------------------------------------------------------------------

def test_a_panel_per_model_with_its_name_and_version(page, served_exports):
    shown = {p.get_attribute("data-model"): p for p in find_all(page, ".panel")}
    assert sorted(shown) == sorted(served_exports[1])
    for name, section in shown.items():
        assert section.get_attribute("data-recipe") == name
        assert text_of(find(section, ".model-name")) == name
        assert text_of(find(section, ".version")) == "v1"
        for field in find_all(section, "textarea, input"):  # every input has a label
            assert find_all(section, f'label[for="{field.get_attribute("id")}"]'), field


def test_smart_reply_shows_the_replies_and_scores_of_the_signature(page, direct):
    message = "I forgot my password"
    section = panel(page, "smart_reply")
    fill(find(section, "textarea"), message)
    submit(page, section)
    want = direct("smart_reply", text=[message])
    replies = find_all(section, ".result .reply")
    assert [text_of(find(r, ".reply-text")) for r in replies] == strings(want["replies"])
    assert [r.get_attribute("data-label") for r in replies] == strings(want["labels"])
    scores = [float(r.get_attribute("data-score")) for r in replies]
    np.testing.assert_allclose(scores, want["scores"][0], rtol=1e-6)
    widths = [find(r, ".bar-fill").value_of_css_property("width") for r in replies]
    assert all(w.endswith("px") for w in widths)  # drawn, width from the score
    screenshot(section, "smart_reply")


def test_tagging_colours_each_token_by_its_tag(page, direct):
    sentence = "the cat sat on the mat near the old house ."
    section = panel(page, "tagging")
    fill(find(section, "input[type=text]"), sentence)
    submit(page, section)
    want = direct("tagging", text=[sentence])
    n = int(want["lengths"][0])
    tokens = find_all(section, ".result .token")
    assert [text_of(find(t, ".token-text")) for t in tokens] == strings(want["tokens"][0][:n])
    tags = [t.get_attribute("data-tag") for t in tokens]
    assert tags == strings(want["tags"][0][:n])
    assert [t.get_attribute("title") for t in tokens] == tags  # the tooltip names the tag
    colours = {}
    for tag, token in zip(tags, tokens):  # one colour per tag
        colours.setdefault(tag, set()).add(token.value_of_css_property("background-color"))
    assert all(len(c) == 1 for c in colours.values()), colours
    legend = [i.get_attribute("data-tag") for i in find_all(section, ".legend-item")]
    assert legend == sorted(set(tags))
    screenshot(section, "tagging")


def test_translation_shows_the_translation_and_its_score(page, direct):
    text = "where is the station"
    section = panel(page, "translation")
    fill(find(section, "textarea"), text)
    submit(page, section)
    want = direct("translation", text=[text])
    assert text_of(find(section, ".result .translation")) == strings(want["translation"])[0]
    shown = float(find(section, ".result .score").get_attribute("data-score"))
    np.testing.assert_allclose(shown, want["score"][0], rtol=1e-6)
    screenshot(section, "translation")


def test_captioning_captions_a_chosen_and_a_dropped_image(page, direct, tmp_path):
    image = png(3, size=48)
    want = strings(direct("captioning", image=[image])["caption"])[0]
    path = tmp_path / "picture.png"
    path.write_bytes(image)
    section = panel(page, "captioning")
    find(section, "input[type=file]").send_keys(str(path))
    submit(page, section)
    assert text_of(find(section, ".result .caption")) == want
    assert page.execute_script("return arguments[0].naturalWidth",
                               find(section, ".preview")) == 48  # the preview shows it
    screenshot(section, "captioning")

    other = png(4)
    page.execute_script("""
        const [zone, b64] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true,
                                                  cancelable: true}));
    """, find(section, ".dropzone"), base64.b64encode(other).decode("ascii"))
    assert "dropped.png" in text_of(find(section, ".file-name"))
    submit(page, section)
    assert text_of(find(section, ".result .caption")) == strings(
        direct("captioning", image=[other])["caption"])[0]


def test_language_model_generates_with_the_settings_of_the_form(page, direct, served_exports):
    facts = metadata(served_exports, "language_model")
    section = panel(page, "language_model")
    fields = {name: find(section, f'input[name="{name}"]')
              for name in ("length", "temperature", "top_k", "seed")}
    for name, field in fields.items():  # the defaults are the export's
        assert float(field.get_attribute("value")) == facts["generate"][name]
    prompt = "once upon a time"
    fill(find(section, "textarea"), prompt)
    fill(fields["length"], "12")
    fill(fields["temperature"], "0.5")
    fill(fields["seed"], "3")
    submit(page, section)
    want = direct("language_model", "generate", prompt=[prompt], length=np.int32(12),
                  temperature=np.float32(0.5), top_k=np.int32(facts["generate"]["top_k"]),
                  seed=np.int32(3))
    assert text_of(find(section, ".result .generated")) == strings(want["text"])[0]
    screenshot(section, "language_model")


def test_forecasting_draws_the_forecast_of_pasted_or_csv_values(page, direct, served_exports,
                                                                tmp_path):
    facts = metadata(served_exports, "forecasting")
    window, horizon = facts["window"], facts["horizon"]
    numbers = np.round(10 + 3 * np.sin(np.arange(window + 5) / 3), 2).tolist()
    series = np.float32(numbers)
    section = panel(page, "forecasting")
    values = find(section, "textarea")
    lines = [", ".join(map(str, numbers[i:i + 7])) for i in range(0, len(numbers), 7)]
    fill(values, "\n".join(lines))  # commas, spaces and new lines; the last `window` are used
    submit(page, section)
    page.execute_script("arguments[0].scrollTop = 0", values)
    want = direct("forecasting", values=series[None, -window:])["forecast"][0]
    shown = [float(v.get_attribute("data-value")) for v in find_all(section, ".forecast-value")]
    np.testing.assert_allclose(shown, want, rtol=1e-6)
    assert len(shown) == horizon
    chart = find(section, ".result svg.chart")
    assert len(find(chart, ".series-line").get_attribute("points").split()) == window
    assert len(find_all(chart, ".forecast-point")) == horizon
    screenshot(section, "forecasting")

    # a CSV file: its "value" column (named by the export's target), the last `window` rows
    csv = tmp_path / "series.csv"
    rows = [f"2024-01-{i % 28 + 1:02d},{v!r},{i}" for i, v in enumerate(numbers)]
    csv.write_text("date,value,row\n" + "\n".join(rows) + "\n")
    fill(values, "1 2 3")
    find(section, "input[type=file]").send_keys(str(csv))
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(page, WAIT).until(lambda d: values.get_attribute("value") != "1 2 3")
    np.testing.assert_allclose([float(v) for v in values.get_attribute("value").split()],
                               numbers[-window:], rtol=0)
    submit(page, section)
    shown = [float(v.get_attribute("data-value")) for v in find_all(section, ".forecast-value")]
    np.testing.assert_allclose(shown, want, rtol=1e-6)

    fill(values, "1, 2, 3")  # too few values: said in the panel, nothing sent
    submit(page, section, expect="error")
    assert text_of(find(section, ".error")) == f"The model reads {window} values; found 3."
    assert not find(section, ".result").is_displayed()


def test_the_servers_error_shows_in_the_panel(page, url, tmp_path):
    not_an_image = b"this is no picture\n"
    request = urllib.request.Request(
        f"{url}/v1/models/captioning:predict", method="POST",
        data=json.dumps({"instances": [{"b64": base64.b64encode(
            not_an_image).decode("ascii")}]}).encode("utf-8"))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=WAIT)
    assert raised.value.code == 400
    message = json.loads(raised.value.read())["error"]

    path = tmp_path / "notes.txt"
    path.write_bytes(not_an_image)
    section = panel(page, "captioning")
    find(section, "input[type=file]").send_keys(str(path))
    submit(page, section, expect="error")
    error = find(section, ".error")
    assert error.is_displayed() and text_of(error) == message
    assert not find(section, ".result").is_displayed()
