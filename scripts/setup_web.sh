#!/usr/bin/env bash
# The web chat's only third-party file: the socket.io client, installed from npm with the lockfile
# (web/package-lock.json) and copied to web/static/vendor/, which the Rasa server serves at
# /chat/static/vendor/. Nothing is fetched from a CDN at run time.
# Runs `npm ci` only when the lockfile changed or the copied file is missing. Without npm it
# prints a warning and succeeds: the bot still runs, the chat page shows a notice instead.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
web="$ROOT/web"
vendor="$web/static/vendor"
target="$vendor/socket.io.min.js"
stamp="$vendor/.package-lock.sha256"

want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
if [ -s "$target" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "⚠️  没有找到 npm：网页聊天需要的 socket.io 客户端没有安装，/chat 页面会显示提示而不能对话。" >&2
  echo "    请安装 Node.js 和 npm（如 apt-get install nodejs npm）后重新运行 make venv。机器人的其他功能不受影响。" >&2
  exit 0
fi
echo "==> installing the web chat's socket.io client (npm ci in web/)"
if ! (cd "$web" && npm ci --no-audit --no-fund --loglevel=error); then
  echo "⚠️  npm ci 失败：网页聊天暂时不能对话（其他功能不受影响）。请检查网络或 npm 设置后重新运行 make venv。" >&2
  exit 0
fi
mkdir -p "$vendor"
cp "$web/node_modules/socket.io-client/dist/socket.io.min.js" "$target"
echo "$want" > "$stamp"
