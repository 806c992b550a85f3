#!/usr/bin/env bash
# Create the project's virtualenv with Python 3.10 (Rasa 3.6 runs on 3.8-3.10 only) and install
# the project with its test dependencies. Idempotent: make calls it only when pyproject.toml changed.
set -euo pipefail
venv=${1:-.venv}
# one installer at a time (two `make` runs in parallel would otherwise rebuild the same venv)
exec 9>"${venv%/}.lock"
flock 9

find_python() {
  local c
  for c in python3.10 "$HOME/.pyenv/versions/3.10"*/bin/python3.10; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; assert sys.version_info[:2]==(3,10)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    c=$(pyenv root)/versions/$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10' | tail -n1)/bin/python3.10
    [ -x "$c" ] && { echo "$c"; return 0; }
  fi
  if command -v uv >/dev/null 2>&1; then
    uv python install 3.10 >/dev/null 2>&1 && c=$(uv python find 3.10 2>/dev/null) && [ -n "$c" ] && { echo "$c"; return 0; }
  fi
  return 1
}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys; assert sys.version_info[:2]==(3,10)' 2>/dev/null; then
  py=$(find_python) || { echo "找不到 Python 3.10：Rasa 3.6 只支持 3.8–3.10。请安装 python3.10（或 pyenv install 3.10 / uv python install 3.10）后重试。" >&2; exit 1; }
  echo "==> creating $venv with $py"
  rm -rf "$venv"
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade "pip<24.1" 2>&1 | grep -v '^WARNING: Location' || true
echo "==> installing the project and its dependencies into $venv (first time: about 2 minutes)"
"$venv/bin/python" -m pip install -q -e ".[test]" 2>&1 | grep -v '^WARNING: Location' || true
"$venv/bin/python" -c 'import rasa, rasa_sdk, jieba, cn2an, wechatpy, pytest' \
  || { echo "依赖安装失败，请查看上面的错误信息。" >&2; exit 1; }

# The web chat's socket.io client from npm (web/package-lock.json); warns and goes on without npm.
bash "$(dirname "$0")/setup_web.sh" || true
