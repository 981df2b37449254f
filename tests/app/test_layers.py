"""The API process stays small: importing and serving it never loads torch or the workers."""

import json
import subprocess
import sys

from app.config import PROJECT_ROOT


def test_the_api_serves_requests_without_importing_torch_or_workers(tmp_path):
    script = f"""
import json, sys
from app import create_app
from app.config import Settings
from app.db import upgrade
settings = Settings(data_dir={str(tmp_path)!r})
upgrade(settings.database_url)
client = create_app(settings).test_client()
client.get('/readyz'); client.get('/openapi.json'); client.get('/v1/jobs')
loaded = {{m.split('.')[0] for m in sys.modules}}
print(json.dumps(sorted(loaded & {{'torch', 'workers', 'librosa', 'demucs'}})))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_database_commands_load_no_worker_code(tmp_path):
    script = f"""
import json, os, sys
os.environ['SOUNDSCAPE_DATA_DIR'] = {str(tmp_path)!r}
from app.cli import main
main(['db', 'upgrade'])
loaded = {{m.split('.')[0] for m in sys.modules}}
print(json.dumps(sorted(loaded & {{'torch', 'workers', 'numpy'}})))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_top_level_help_imports_no_command_module():
    script = """
import contextlib, io, json, sys
from app.cli import main
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
    main(['--help'])
loaded = {m.split('.')[0] for m in sys.modules}
print(json.dumps(sorted(loaded & {'torch', 'workers', 'numpy'})))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
