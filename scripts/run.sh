#!/usr/bin/env bash
# Start the action server and the Rasa server together; Ctrl-C stops both.
#   scripts/run.sh          the bot with REST, socket.io, web chat and WeChat channels
#   scripts/run.sh --shell  chat in this terminal
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
model=$("$VENV_BIN/python" scripts/train.py --path)
[ -f "$model" ] || { echo "没有找到训练好的模型，请先运行 make train。" >&2; exit 1; }

pids=()
cleanup() { trap - INT TERM EXIT; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT

SANIC_HOST=127.0.0.1 "$VENV_BIN/python" -m rasa_sdk --actions actions --port "$ACTIONS_PORT" --quiet &
pids+=($!)

if [ "${1:-}" = "--shell" ]; then
  "$VENV_BIN/python" -m bot.serve shell --model "$model" --endpoints bot/endpoints.yml --quiet
  exit 0
fi

# Sanic worker processes (Rasa shares conversations and locks between them through var/)
export SANIC_WORKERS="${XIESHANG_WORKERS:-1}"
echo "==> starting the bot on http://$BOT_HOST:$BOT_PORT (model $(basename "$model"))"
"$VENV_BIN/python" -m bot.serve run --model "$model" \
  --endpoints bot/endpoints.yml --credentials bot/credentials.yml \
  -i "$BOT_HOST" --port "$BOT_PORT" \
  --enable-api --auth-token "$RASA_AUTH_TOKEN" \
  --cors "${XIESHANG_CORS:-http://$BOT_HOST:$BOT_PORT}" &
pids+=($!)

for _ in $(seq 1 240); do
  if curl -fsS "http://$BOT_HOST:$BOT_PORT/" >/dev/null 2>&1; then
    echo
    echo "  协商助手已启动 ✅"
    echo "  网页聊天:  http://$BOT_HOST:$BOT_PORT/chat"
    echo "  REST 接口: POST http://$BOT_HOST:$BOT_PORT/webhooks/rest/webhook"
    echo "  HTTP API 令牌保存在 var/api-token（或环境变量 RASA_AUTH_TOKEN）"
    echo "  按 Ctrl-C 停止"
    break
  fi
  sleep 0.5
done
wait -n "${pids[@]}"
