"""The launcher's commands, without starting anything."""

from assistant.stack import Stack


def test_a_token_that_starts_with_a_dash_stays_one_argument(tmp_path):
    stack = Stack(rasa_token="-Xy9", api_token="t", var_dir=tmp_path)
    rasa = next(s for s in stack._services() if s.name == "rasa")
    assert "--auth-token=-Xy9" in rasa.command
    assert "-Xy9" not in rasa.command  # never a bare value argparse could take for an option
