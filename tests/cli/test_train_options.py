"""``genpo train``'s field options are the configuration's fields: same names, help from the field docstrings."""

from __future__ import annotations

import inspect

from genpo.cli import train as cli_train
from genpo.training.config import SECTIONS

# Options of `genpo train` that are not configuration fields (how to run, not what).
NOT_FIELDS = {"preset", "config", "resume", "checkpoint", "distributed", "nproc", "set_"}


def test_every_option_is_a_field_or_a_run_control():
    params = set(inspect.signature(cli_train.train).parameters)
    assert params == set(cli_train.OPTION_FIELDS) | NOT_FIELDS
    for section, name in cli_train.OPTION_FIELDS.values():
        assert name in SECTIONS[section].__dataclass_fields__, f"{section}.{name}"


def test_help_lines_come_from_the_field_docstrings():
    for option, (section, name) in cli_train.OPTION_FIELDS.items():
        param = inspect.signature(cli_train.train).parameters[option].default
        assert param.default is None, f"--{option} must be unset unless given (precedence)"
        assert param.help == cli_train.field_help(option)
        assert f"({section}.{name}; default: " in param.help
