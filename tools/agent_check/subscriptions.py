import sys, os, json, subprocess, tempfile, pathlib, time
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
home = pathlib.Path(tempfile.mkdtemp())
os.environ["CLIPROXY_HOME"] = str(home)
import httpx, yaml
from tests.fakes.subscriptions import FakeSubscriptions
from tests.e2e.test_subscriptions import write_auth_files, _ClosingApp, MODELS
from tests.harness import serve_in_thread
from cliproxy_cli.config import load_config
from cliproxy_cli.accounts.importer import import_path
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.oauth.refresh import TokenRefresher
from cliproxy_cli.server.app import create_app

BIN = os.environ.get("AGENTS_BIN", "/tmp/agents/node_modules/.bin/")
PROMPT = os.environ.get("PROMPT", "TOOLTEST run echo hi")
KEY = "agent-key-123456"
def run(cmd, env, cwd):
    e = dict(os.environ); e.update(env); e["HTTPS_PROXY"] = "http://127.0.0.1:9"; e["NO_PROXY"]="127.0.0.1,localhost"
    p = subprocess.run(cmd, env=e, cwd=cwd, capture_output=True, text=True, timeout=150)
    return p.returncode, p.stdout, p.stderr
fake = FakeSubscriptions()
with serve_in_thread(fake) as base:
    write_auth_files(home / "cpa", fake, time.time())
    (home / "config.yaml").write_text(yaml.safe_dump({"api-keys": [KEY], "credential-store": "file"}))
    loaded = load_config(str(home / "config.yaml"), environ={"CLIPROXY_HOME": str(home), **fake.environ(base)})
    repo = open_repository(loaded.paths, "file")
    import_path(repo, home / "cpa")
    tc = httpx.AsyncClient(timeout=10)
    app = create_app(loaded, repo=repo, tokens=TokenRefresher(repo, loaded.endpoints, client=tc))
    with serve_in_thread(_ClosingApp(app, tc)) as proxy:
        for agent in sys.argv[1:]:
            for provider, model in MODELS.items():
                h = tempfile.mkdtemp(); work = tempfile.mkdtemp()
                if agent == "claude":
                    rc, out, err = run([BIN+"claude", "-p", PROMPT, "--output-format", "json", "--model", model, "--allowedTools", "Bash"],
                        {"HOME": h, "ANTHROPIC_BASE_URL": proxy, "ANTHROPIC_API_KEY": KEY, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1"}, work)
                    res = json.loads(out).get("result", "") if rc == 0 and out.strip().startswith("{") else out[-200:]
                elif agent == "codex":
                    ch = pathlib.Path(h) / ".codex"; ch.mkdir()
                    (ch / "config.toml").write_text(f'model = "{model}"\nmodel_provider = "cliproxy"\ncheck_for_update_on_startup = false\n[model_providers.cliproxy]\nname = "cliproxy"\nbase_url = "{proxy}/v1"\nenv_key = "CLIPROXY_API_KEY"\nwire_api = "responses"\n[features]\nplugins = false\n[analytics]\nenabled = false\n[feedback]\nenabled = false\n')
                    rc, out, err = run([BIN+"codex", "exec", "--skip-git-repo-check", "--color", "never", PROMPT], {"HOME": h, "CODEX_HOME": str(ch), "CLIPROXY_API_KEY": KEY}, work)
                    res = out.strip()[-120:]
                else:
                    gh = pathlib.Path(h) / ".gemini"; gh.mkdir()
                    (gh / "settings.json").write_text(json.dumps({"security":{"auth":{"selectedType":"gemini-api-key"}},"privacy":{"usageStatisticsEnabled":False},"telemetry":{"enabled":False},"general":{"enableAutoUpdate":False,"enableAutoUpdateNotification":False}}))
                    rc, out, err = run([BIN+"gemini", "-m", model, "--output-format", "json", "-p", PROMPT, "--approval-mode", "yolo"], {"HOME": h, "GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": proxy, "GEMINI_CLI_TRUST_WORKSPACE": "true", "GEMINI_TELEMETRY_ENABLED": "false"}, work)
                    try: res = json.loads(out)["response"]
                    except Exception: res = out[-200:]
                calls = len(fake.vendors[provider].inference()) if hasattr(fake.vendors[provider], "inference") else "?"
                print(f"{agent:7} {provider:7} rc={rc} upstream_calls={calls} result={str(res).replace(chr(10),' ')[:110]!r}" + ("" if rc == 0 else " ERR " + err[-300:].replace(chr(10), " ")))
                fake.clear()
