"""Hypothesis: whatever a config file holds, loading it gives a config inside every hard range, or a
ConfigError with one line per problem; never another exception."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import CAP_CEILINGS_KMH, CAP_CEILINGS_PCT, OPTIONS, Config, ConfigError, load_config, parse_config

SECTIONS = sorted({section for section, _ in OPTIONS} | {"bogus"})
KEYS = sorted({key for _, key in OPTIONS} | {"colour", "units"})

#: Values a person (or an attacker) can write in TOML: huge and tiny numbers, nan and inf, wrong
#: types, lists, tables.
scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-3, max_value=130),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1.0, max_value=130.0),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e308, 5e-324]),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(["mph", "kmh", "closed", "open", "both", "either", "csafe", "cue", "", "/dev/ttyUSB0",
                     "/media/x", "lgpio", "backstep-2"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=5))
tables = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)
configs = st.dictionaries(st.sampled_from(SECTIONS), tables, max_size=7)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (surrogates make it invalid TOML: also fine)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def toml_text(data: dict) -> str:
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def assert_within_every_range(config: Config) -> None:
    for (section, key), spec in OPTIONS.items():
        if spec.kind != "number":
            continue
        value = getattr(config.safety if section == "safety" else getattr(config, section), key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        assert math.isfinite(value) and spec.low <= value <= spec.high, (section, key, value)
    caps = config.safety.caps
    for value, ceiling, low_open in (
        (caps.backward_speed_kmh, CAP_CEILINGS_KMH["backward_speed"], True),
        (caps.forward_speed_kmh, CAP_CEILINGS_KMH["forward_speed"], True),
        (caps.backward_incline_pct, CAP_CEILINGS_PCT["backward_incline"], False),
        (caps.forward_incline_pct, CAP_CEILINGS_PCT["forward_incline"], False),
    ):
        assert math.isfinite(value) and value <= ceiling
        assert value > 0 if low_open else value >= 0
    for section in ("station", "gpio", "treadmill", "store", "export", "kiosk"):
        for key, spec in ((k, s) for (sec, k), s in OPTIONS.items() if sec == section):
            value = getattr(getattr(config, section), key)
            if spec.kind == "flag":
                assert isinstance(value, bool)
            elif spec.kind == "text":
                assert isinstance(value, str)
            elif spec.kind == "pins":
                assert value and all(type(p) is int and 0 <= p <= 63 for p in value)
    assert config.treadmill.silence_timeout_s >= 2 * config.treadmill.poll_interval_s


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_every_accepted_config_is_finite_and_within_range(data):
    text = toml_text(data)
    try:
        config = parse_config(text, "station.toml")
    except ConfigError as exc:
        assert exc.problems and all(p and "\n" not in p and len(p) < 400 for p in exc.problems)
        return
    assert_within_every_range(config)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_loading_any_text_raises_nothing_but_a_config_error(text):
    try:
        config = parse_config(text, "station.toml")
    except ConfigError as exc:
        assert all("\n" not in p for p in exc.problems)
        return
    assert_within_every_range(config)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["[safety]", "[gpio]", "[kiosk]", "a = ", "backward_speed = ", "1", "1e999", "nan",
                                 "[", "]", "{", "}", '"', "'''", "\n", "=", ",", "0x7f", "9" * 30, "inf", ".",
                                 "rail_pins = ", "true", "#", "\\u0000", "rails_grace_s = "]), max_size=40))
def test_toml_shaped_noise_raises_nothing_but_a_config_error(parts):
    try:
        config = parse_config("".join(parts), "station.toml")
    except ConfigError:
        return
    assert_within_every_range(config)


def _section_tables(section: str):
    keys = [key for (s, key) in OPTIONS if s == section]
    near = st.one_of(st.floats(min_value=-1.0, max_value=130.0), st.integers(min_value=-1, max_value=130),
                     st.sampled_from([float("nan"), float("inf"), 10**30, 1e-300]), st.sampled_from(["mph", "kmh"]))
    return st.dictionaries(st.sampled_from(keys), near, max_size=len(keys))


#: Known options with numbers near and across their limits: most of these load, so the range
#: property is exercised on accepted configs, not only on refused ones.
near_configs = st.fixed_dictionaries({}, optional={s: _section_tables(s) for s in ("safety", "gpio", "treadmill")})


@settings(max_examples=400, deadline=None)
@given(near_configs)
def test_configs_near_the_limits_load_only_within_range(data):
    try:
        config = parse_config(toml_text(data), "station.toml")
    except ConfigError as exc:
        assert all("\n" not in p for p in exc.problems)
        return
    assert_within_every_range(config)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_loading_any_file_raises_nothing_but_a_config_error(tmp_path, raw):
    path = tmp_path / "config.toml"
    path.write_bytes(raw)
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert all("\n" not in p for p in exc.problems)
        return
    assert_within_every_range(config)
