"""Hotspot forecasts with honest backtests, fairness checks and patrol plans (place-based only).

>>> from safertogether.forecast import Inputs, prepare, backtest  # doctest: +SKIP
>>> prepared = prepare(Inputs(["leicestershire/"]), horizon="month", cell_m=250)  # doctest: +SKIP
>>> report = backtest(prepared.series)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.forecast.backtest import BacktestSettings, backtest
    from safertogether.forecast.models import MODELS
    from safertogether.forecast.prepare import Inputs, Prepared, prepare

__all__ = ["MODELS", "BacktestSettings", "Inputs", "Prepared", "backtest", "prepare"]

lazy_exports(globals(), {
    "BacktestSettings": "safertogether.forecast.backtest",
    "backtest": "safertogether.forecast.backtest",
    "MODELS": "safertogether.forecast.models",
    "Inputs": "safertogether.forecast.prepare",
    "Prepared": "safertogether.forecast.prepare",
    "prepare": "safertogether.forecast.prepare",
})
