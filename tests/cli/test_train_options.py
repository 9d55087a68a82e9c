"""Field options are declared once (genpo/cli/field_options.py): same names as the fields, help from their docs."""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from genpo.cli import pretrain as cli_pretrain
from genpo.cli import train as cli_train
from genpo.cli.field_options import FIELD_OPTIONS, PRETRAIN_OPTIONS, option_for
from genpo.cli.main import app
from genpo.training.fields import field_of
from genpo.training.spec import default_of, doc_of

# Options of `genpo train` that are not configuration fields (how to run, not what).
NOT_FIELDS = {"preset", "config", "resume", "checkpoint", "distributed", "nproc", "set_", "dry_run"}
# pretrain fields with an option of `genpo pretrain` (the others: --set pretrain.FIELD=VALUE)
NAMED_PRETRAIN = {"epochs", "batch_size", "learning_rate", "objective", "validation_fraction", "eval_episodes"}


def test_every_option_is_a_field_or_a_run_control():
    params = set(inspect.signature(cli_train.train).parameters)
    assert params == {o.name for o in FIELD_OPTIONS} | NOT_FIELDS
    for o in FIELD_OPTIONS:
        field_of(o.field)  # each names a declared field


@pytest.mark.parametrize("command", [cli_train.train, cli_pretrain.pretrain])
def test_help_lines_come_from_the_declared_field_docs(command):
    params = inspect.signature(command).parameters
    # pretrain's own --env (checked against the dataset's)
    own = {"env"} if command is cli_pretrain.pretrain else set()
    shared = [o for o in (*FIELD_OPTIONS, *PRETRAIN_OPTIONS) if o.name in params and o.name not in own]
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


def test_pretrain_options_set_the_pretrain_section_from_its_declaration():
    params = inspect.signature(cli_pretrain.pretrain).parameters
    assert {o.field for o in PRETRAIN_OPTIONS} == {f"pretrain.{n}" for n in NAMED_PRETRAIN}
    assert all(o.name in params for o in PRETRAIN_OPTIONS)
    assert option_for("pretrain.learning_rate") == "--learning-rate"
    res = CliRunner().invoke(app, ["pretrain", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    line = next(row for row in res.output.splitlines() if "(pretrain.epochs;" in row)
    assert "--epochs" in line
    f = field_of("pretrain.epochs")
    assert doc_of(f).startswith("Passes over the training episodes") and f.default == 100
    assert f"{doc_of(f)} (pretrain.epochs; default: 100)" in line
    assert "--learning-rate,--lr" in res.output


def test_train_does_not_reach_the_pretrain_section():
    res = CliRunner().invoke(app, ["train", "--set", "pretrain.epochs=3"], env={"COLUMNS": "400"})
    assert res.exit_code == 2 and "unknown configuration field 'pretrain.epochs'" in res.output
    res = CliRunner().invoke(app, ["train", "--epochs", "3"], env={"COLUMNS": "400"})
    assert res.exit_code == 2 and "No such option" in res.output


def test_a_pretrain_option_and_set_for_one_field_are_refused():
    args = ["pretrain", "--dataset", "none.npz", "--epochs", "3", "--set", "pretrain.epochs=4"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert res.exit_code == 2 and "sets pretrain.epochs, which --epochs already sets" in res.output
