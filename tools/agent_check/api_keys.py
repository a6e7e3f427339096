import sys, os, json, subprocess, tempfile, pathlib, dataclasses, shutil
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
os.environ["CLIPROXY_HOME"] = tempfile.mkdtemp()
from tests.fakes.upstreams import FakeUpstream
from tests.harness import serve_in_thread
from tests.e2e.conftest import api_key_config
from cliproxy_cli.config import parse_config, load_config
from cliproxy_cli.server.app import create_app
PROMPT = os.environ.get("PROMPT", "say hello")
BIN = os.environ.get("AGENTS_BIN", "/tmp/agents/node_modules/.bin/")
fake = FakeUpstream()
def run(cmd, env, cwd):
    e = dict(os.environ); e.update(env); e["HTTPS_PROXY"] = "http://127.0.0.1:9"; e["HTTP_PROXY"]="http://127.0.0.1:9"; e["NO_PROXY"]="127.0.0.1,localhost"
    p = subprocess.run(cmd, env=e, cwd=cwd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout[-400:], p.stderr[-400:]
with serve_in_thread(fake) as up:
    cfg, _ = parse_config(api_key_config(up))
    app = create_app(dataclasses.replace(load_config(), config=cfg))
    with serve_in_thread(app) as base:
        key = "test-client-key-0123"
        for model in sys.argv[2:]:
            home = tempfile.mkdtemp(); work = tempfile.mkdtemp()
            if sys.argv[1] == "claude":
                rc, out, err = run([BIN+"claude", "-p", PROMPT, "--output-format", "json", "--model", model, "--allowedTools", "Bash"],
                    {"HOME": home, "ANTHROPIC_BASE_URL": base, "ANTHROPIC_API_KEY": key, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1"}, work)
            elif sys.argv[1] == "codex":
                ch = pathlib.Path(home) / ".codex"; ch.mkdir()
                (ch / "config.toml").write_text(f'''model = "{model}"
model_provider = "cliproxy"
check_for_update_on_startup = false
[model_providers.cliproxy]
name = "cliproxy"
base_url = "{base}/v1"
env_key = "CLIPROXY_API_KEY"
wire_api = "responses"
[features]
plugins = false
[analytics]
enabled = false
[feedback]
enabled = false
''')
                rc, out, err = run([BIN+"codex", "exec", "--skip-git-repo-check", "--color", "never", PROMPT], {"HOME": home, "CODEX_HOME": str(ch), "CLIPROXY_API_KEY": key}, work)
            else:
                gh = pathlib.Path(home) / ".gemini"; gh.mkdir()
                (gh / "settings.json").write_text(json.dumps({"security":{"auth":{"selectedType":"gemini-api-key"}},"privacy":{"usageStatisticsEnabled":False},"telemetry":{"enabled":False},"general":{"enableAutoUpdate":False,"enableAutoUpdateNotification":False}}))
                rc, out, err = run([BIN+"gemini", "-m", model, "--output-format", "json", "-p", PROMPT, "--approval-mode", "yolo"], {"HOME": home, "GEMINI_API_KEY": key, "GOOGLE_GEMINI_BASE_URL": base, "GEMINI_CLI_TRUST_WORKSPACE": "true", "GEMINI_TELEMETRY_ENABLED": "false"}, work)
            print("=====", sys.argv[1], model, "rc", rc)
            print("OUT", out.replace("\n"," ")[-300:])
            if rc: print("ERR", err.replace("\n", " ")[-400:])
            print("upstream paths:", [r.path for r in fake.requests][-3:])
            fake.requests.clear()
