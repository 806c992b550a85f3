# Sourced by the other scripts: the environment every process of the bot runs with.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Nothing a user says may leave the machine: Rasa's anonymous telemetry stays off.
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=3
export SQLALCHEMY_SILENCE_UBER_WARNING=1
export PYTHONWARNINGS=ignore
export BOT_PORT=${BOT_PORT:-5005}
export ACTIONS_PORT=${ACTIONS_PORT:-5055}
export BOT_HOST=${BOT_HOST:-127.0.0.1}
export XIESHANG_VAR=${XIESHANG_VAR:-$ROOT/var}
export XIESHANG_DB=${XIESHANG_DB:-$XIESHANG_VAR/xieshang.db}
mkdir -p "$XIESHANG_VAR" && chmod 700 "$XIESHANG_VAR"
VENV_BIN="$ROOT/.venv/bin"

# The HTTP API (--enable-api) is never open without a token: use RASA_AUTH_TOKEN, or a random
# token kept in var/api-token (readable by this user only).
if [ -z "${RASA_AUTH_TOKEN:-}" ]; then
  if [ ! -s "$XIESHANG_VAR/api-token" ]; then
    (umask 077; "$VENV_BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$XIESHANG_VAR/api-token")
  fi
  RASA_AUTH_TOKEN=$(cat "$XIESHANG_VAR/api-token")
fi
export RASA_AUTH_TOKEN
