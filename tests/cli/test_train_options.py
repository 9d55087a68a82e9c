"""Field options are declared once (genpo/cli/field_options.py): same names as the fields, help from their docs."""

from __future__ import annotations

import inspect

import pytest

from genpo.cli import pretrain as cli_pretrain
from genpo.cli import train as cli_train
from genpo.cli.field_options import FIELD_OPTIONS, option_for
from genpo.training.fields import field_of
from genpo.training.spec import default_of, doc_of

# Options of `genpo train` that are not configuration fields (how to run, not what).
NOT_FIELDS = {"preset", "config", "resume", "checkpoint", "distributed", "nproc", "set_"}


def test_every_option_is_a_field_or_a_run_control():
    params = set(inspect.signature(cli_train.train).parameters)
    assert params == {o.name for o in FIELD_OPTIONS} | NOT_FIELDS
    for o in FIELD_OPTIONS:
        field_of(o.field)  # each names a declared field


@pytest.mark.parametrize("command", [cli_train.train, cli_pretrain.pretrain])
def test_help_lines_come_from_the_declared_field_docs(command):
    params = inspect.signature(command).parameters
    # pretrain's own --env (checked against the dataset's) and --learning-rate (pretrain.learning_rate)
    own = {"env", "learning_rate"} if command is cli_pretrain.pretrain else set()
    shared = [o for o in FIELD_OPTIONS if o.name in params and o.name not in own]
    assert shared, "the command takes no field option"
    for o in shared:
        info = params[o.name].default
        assert info.default is None, f"{o.flags[0]} must be unset unless given (precedence)"
        assert info.help == o.help()
        f = field_of(o.field)
        assert f"({o.field}; default: {default_of(f)})" in info.help
        assert doc_of(f).replace("``", "").split(" ")[0] in info.help


def test_the_flow_steps_keep_their_flag():
    assert option_for("policy.flow_steps") == "--steps"
    assert option_for("policy.mix_p") == "--p"
    assert option_for("algo.gamma") is None
