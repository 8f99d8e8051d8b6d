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


def test_a_process_that_dies_is_started_again_with_back_off(tmp_path):
    from assistant.stack import Service

    stack = Stack(rasa_token="r", api_token="a", var_dir=tmp_path)
    dies = Service("dies", ["false"], "http://127.0.0.1:1/", log_path=tmp_path / "dies.log")
    lives = Service("lives", ["sleep", "30"], "http://127.0.0.1:1/", log_path=tmp_path / "lives.log")
    stack.services = [dies, lives]
    for service in stack.services:
        stack._launch(service)
    assert dies.process is not None and lives.process is not None
    dies.process.wait()
    first_pid = dies.process.pid
    now = dies.started_at + 1  # it died young, for the first time: started again at once
    lines = stack.supervise_once(now)
    assert "dies exited with 1" in lines[0] and dies.process.pid != first_pid and dies.restarts == 1
    dies.process.wait()
    assert stack.supervise_once(now + 0.5) and dies.restart_at == now + 1.5  # then 1 s, 2 s, …
    second_pid = dies.process.pid
    assert stack.supervise_once(now + 1.0) == [] and dies.process.pid == second_pid
    assert "started again" in stack.supervise_once(now + 1.6)[0] and dies.restarts == 2
    assert lives.process.poll() is None  # the others are left alone
    stack.stop(grace=1)
    assert stack.supervise_once() == [] and lives.process.poll() is not None


def test_one_rasa_process_by_default_with_no_lock_store(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSISTANT_RASA_PROCESSES", raising=False)
    monkeypatch.delenv("ASSISTANT_REDIS_URL", raising=False)
    stack = Stack(rasa_token="r", api_token="a", var_dir=tmp_path)
    names = [s.name for s in stack._services()]
    assert names.count("rasa") == 1 and "rasa-2" not in names
    assert "lock_store" not in (tmp_path / "endpoints.yml").read_text()


def test_several_rasa_processes_need_redis(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="ASSISTANT_REDIS_URL"):
        Stack(rasa_token="r", api_token="a", var_dir=tmp_path, rasa_processes=2, redis_url="")
    with pytest.raises(ValueError, match="at least 1"):
        Stack(rasa_token="r", api_token="a", var_dir=tmp_path, rasa_processes=0)


def test_several_rasa_processes_share_a_redis_lock_store_and_the_gateway(tmp_path):
    import yaml

    stack = Stack(
        rasa_token="r",
        api_token="a",
        var_dir=tmp_path,
        rasa_port=17005,
        rasa_processes=2,
        redis_url="redis://:s3cret@127.0.0.1:6379/3",
    )
    services = {s.name: s for s in stack._services()}
    assert {"rasa", "rasa-2"} <= set(services)
    second = services["rasa-2"]
    assert second.command[second.command.index("--port") + 1] == "17006"
    assert second.env["ASSISTANT_REDIS_URL"] == "redis://:s3cret@127.0.0.1:6379/3"
    assert second.env["ASSISTANT_REDIS_PASSWORD"] == "s3cret"
    endpoints = (tmp_path / "endpoints.yml").read_text()
    assert "s3cret" not in endpoints  # Rasa reads the password from its environment
    lock = yaml.safe_load(endpoints)["lock_store"]
    assert lock["type"] == "rasa_addons.lock_store.AtomicRedisLockStore"
    assert (lock["url"], lock["port"], lock["db"]) == ("127.0.0.1", 6379, 3)
    assert lock["password"] == "${ASSISTANT_REDIS_PASSWORD}"
    gateway = (tmp_path / "gateway" / "nginx.conf").read_text()
    assert "server 127.0.0.1:17005;" in gateway and "server 127.0.0.1:17006;" in gateway
    assert "hash $arg_sticky consistent;" in gateway


def test_embedding_origins_are_read_one_way_for_the_web_app_and_rasa():
    from assistant.settings import parse_origins

    assert parse_origins("https://a.example/, https://b.example  https://a.example") == (
        "https://a.example",
        "https://b.example",
    )
    assert parse_origins("") == ()
