"""The launcher's commands, without starting anything."""

from assistant.stack import Stack


def test_a_token_that_starts_with_a_dash_stays_one_argument(tmp_path):
    stack = Stack(rasa_token="-Xy9", api_token="t", var_dir=tmp_path)
    rasa = next(s for s in stack._services() if s.name == "rasa")
    assert "--auth-token=-Xy9" in rasa.command
    assert "-Xy9" not in rasa.command  # never a bare value argparse could take for an option


def test_secrets_survive_a_restart_and_the_environment_wins(tmp_path, monkeypatch):
    for variable in (
        "RASA_AUTH_TOKEN",
        "ASSISTANT_API_TOKEN",
        "ASSISTANT_IDENTITY_SECRET",
        "ASSISTANT_SESSION_SECRET",
    ):
        monkeypatch.delenv(variable, raising=False)
    first = Stack(var_dir=tmp_path)
    first.save_secrets()
    assert oct((tmp_path / "tokens.env").stat().st_mode & 0o777) == "0o600"
    again = Stack(var_dir=tmp_path)  # a restart: customers stay signed in, credentials stay good
    assert (again.identity_secret, again.session_secret, again.api_token) == (
        first.identity_secret,
        first.session_secret,
        first.api_token,
    )
    monkeypatch.setenv("ASSISTANT_SESSION_SECRET", "from-the-environment")
    assert Stack(var_dir=tmp_path).session_secret == "from-the-environment"
    assert Stack(var_dir=tmp_path / "elsewhere").identity_secret != first.identity_secret
