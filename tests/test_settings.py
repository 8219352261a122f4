"""Start-up and deployment: the operator contract of DESIGN.md."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LONG = "Zq8-vN3pL0w_tY6rK2mX9bC4hJ7fD1sA5gE0uI8oP3xW7nB2cV6mQ9"  # production-like


def run_manage(*args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        # The browser fixture's async flag must not leak into a production-like process.
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "EMAIL_URL",
            "SMS_URL",
            "SECURE_SSL_REDIRECT",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    base.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": LONG + "a",
            "ACCESS_CODE_SECRET": LONG + "b",
            "ALLOWED_HOSTS": "clinic.example.org",
        }
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "postgres://"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/x"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "redis://127.0.0.1:notaport/0"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("EMAIL_URL", "smtp://"),
        ("EMAIL_URL", "smtp://mail.example:99999"),
        ("EMAIL_URL", "carrier-pigeon://coop"),
        ("SMS_URL", "carrier-pigeon://coop"),
    ],
)
def test_malformed_service_url_stops_start_up_naming_the_variable(variable, value):
    result = run_manage("check", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_without_secret_key_refuses_to_start():
    result = run_manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_deployment_check_passes_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/outsmart",
        REDIS_URL="redis://127.0.0.1:6379/0",
        EMAIL_URL="smtp://127.0.0.1:1025",
        SMS_URL="https://user:token@sms.example.com/v1/messages",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deployment_check_warns_when_sms_would_not_be_sent():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/outsmart",
        REDIS_URL="redis://127.0.0.1:6379/0",
        EMAIL_URL="smtp://127.0.0.1:1025",
    )
    assert result.returncode != 0
    assert "accesscodes.W001" in result.stdout + result.stderr


def test_production_settings_secure_cookies_hsts_and_ssl_redirect():
    code = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, "
        "s.PASSWORD_HASHERS[0].rsplit('.', 1)[1], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = run_manage("shell", "-v", "0", "-c", code, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.stdout.split() == [
        "True",
        "True",
        "31536000",
        "True",
        "Argon2PasswordHasher",
        "False",
    ]
    result = run_manage("shell", "-v", "0", "-c", code, SECURE_SSL_REDIRECT="false")
    assert result.stdout.split()[3] == "False"
    assert result.stdout.split()[5] == "True"  # no REDIS_URL: tasks in-process


def test_make_run_defaults_need_no_variable_at_all(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "EMAIL_URL",
            "SECRET_KEY",
            "ACCESS_CODE_SECRET",
            "ALLOWED_HOSTS",
            "SECURE_SSL_REDIRECT",
        }
    }
    env.update(DEBUG="true", OUTSMART_VAR_DIR=str(tmp_path))
    code = (
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], "
        "s.EMAIL_BACKEND, s.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "outsmart.devtools.mail.OutboxEmailBackend",
        "True",
    ]


def test_docker_compose_runs_the_whole_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert any("mail" in name for name in services)
    assert "gunicorn" in str(services["web"]["command"])
    assert "worker" in str(services["worker"]["command"])
    assert "beat" in str(services["beat"]["command"])
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        env = env if isinstance(env, dict) else dict(e.split("=", 1) for e in env)
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_collectstatic_with_production_storage_hashes_names(tmp_path):
    result = run_manage("collectstatic", "--noinput", OUTSMART_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = [p.name for p in (tmp_path / "static" / "css").iterdir()]
    assert any(
        n.startswith("outsmart.") and n.endswith(".css") and n != "outsmart.css" for n in names
    )
