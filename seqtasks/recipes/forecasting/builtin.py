"""A generated daily series: a yearly cycle, a weekly ripple and autocorrelated weather noise,
like a city's daily minimum temperature. Deterministic for a given seed."""

import datetime

import numpy as np

START = datetime.date(2001, 1, 1)


def generate(days=8 * 365, seed=0):
    """``(dates, values)``: ``days`` consecutive dates and ``float32`` values, degrees-like."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    season = 11.0 + 6.0 * np.sin(2 * np.pi * (t - 100) / 365.25)
    weekly = 0.5 * np.sin(2 * np.pi * t / 7)
    noise = np.zeros(days)
    shocks = rng.normal(0.0, 1.6, days)
    for i in range(1, days):
        noise[i] = 0.5 * noise[i - 1] + shocks[i]
    dates = [START + datetime.timedelta(days=int(i)) for i in t]
    return dates, (season + weekly + noise).astype(np.float32)


def csv_text(dates, values, column="value"):
    """The series as CSV text with a ``date,<column>`` header."""
    rows = [f"date,{column}"] + [f"{d.isoformat()},{v:.2f}" for d, v in zip(dates, values)]
    return "\n".join(rows) + "\n"
