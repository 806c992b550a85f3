#!/usr/bin/env bash
# Scale-out profile (make run-scaled): the action server, 2 Rasa replicas sharing PostgreSQL (tracker
# store) and Redis (lock store) — bot/endpoints-scaled.yml — and nginx in front of them on BOT_PORT.
# Everything listens on 127.0.0.1 only. Ctrl-C stops everything.
#
#   scripts/run_scaled.sh              run it
#   scripts/run_scaled.sh --services   only make sure PostgreSQL and Redis answer (start them if they
#                                      are installed here but stopped), then exit
#   scripts/run_scaled.sh --nginx-config   only write and check var/nginx/nginx.conf, then exit
#
# Ports: nginx BOT_PORT (5005), replicas BOT_PORT+1 .. BOT_PORT+N (N = XIESHANG_REPLICAS, 2),
# action server ACTIONS_PORT (5055). nginx sends the REST channel and the HTTP API to any replica
# (round robin: the conversation is in PostgreSQL, the Redis lock keeps one replica per conversation
# at a time) and socket.io with ip_hash (a socket.io session lives in one replica's memory).
# Its configuration is generated into var/nginx/ at every start.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

export XIESHANG_PG_HOST=${XIESHANG_PG_HOST:-127.0.0.1}
export XIESHANG_PG_PORT=${XIESHANG_PG_PORT:-5432}
export XIESHANG_PG_DB=${XIESHANG_PG_DB:-xieshang}
export XIESHANG_PG_USER=${XIESHANG_PG_USER:-postgres}
export XIESHANG_PG_PASSWORD=${XIESHANG_PG_PASSWORD:-}
export XIESHANG_PG_LOGIN_DB=${XIESHANG_PG_LOGIN_DB:-postgres}
export XIESHANG_REDIS_HOST=${XIESHANG_REDIS_HOST:-127.0.0.1}
export XIESHANG_REDIS_PORT=${XIESHANG_REDIS_PORT:-6379}
export XIESHANG_REDIS_DB=${XIESHANG_REDIS_DB:-1}
export XIESHANG_REDIS_PASSWORD=${XIESHANG_REDIS_PASSWORD:-}
export XIESHANG_REDIS_PREFIX=${XIESHANG_REDIS_PREFIX:-xieshang}
REPLICAS=${XIESHANG_REPLICAS:-2}

services_up() {
  "$VENV_BIN/python" - <<'EOF'
import os, sys
import psycopg2, redis
try:
    psycopg2.connect(host=os.environ["XIESHANG_PG_HOST"], port=os.environ["XIESHANG_PG_PORT"],
                     user=os.environ["XIESHANG_PG_USER"], password=os.environ["XIESHANG_PG_PASSWORD"] or None,
                     dbname=os.environ["XIESHANG_PG_LOGIN_DB"], connect_timeout=3).close()
    redis.Redis(host=os.environ["XIESHANG_REDIS_HOST"], port=int(os.environ["XIESHANG_REDIS_PORT"]),
                password=os.environ["XIESHANG_REDIS_PASSWORD"] or None, socket_timeout=3).ping()
except Exception as e:
    print(f"   ({type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})", file=sys.stderr)
    sys.exit(1)
EOF
}

# PostgreSQL and Redis on this machine: reuse them, or start local ones that are installed but stopped.
ensure_services() {
  services_up 2>/dev/null && return 0
  local local_pg=0 local_redis=0
  case "$XIESHANG_PG_HOST" in 127.0.0.1|localhost) local_pg=1 ;; esac
  case "$XIESHANG_REDIS_HOST" in 127.0.0.1|localhost) local_redis=1 ;; esac
  if [ $local_pg = 1 ] && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] \
     && ! pg_isready -q -h 127.0.0.1 -p "$XIESHANG_PG_PORT" 2>/dev/null; then
    echo "==> starting the local PostgreSQL"
    for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true; done
  fi
  if [ $local_redis = 1 ] && command -v redis-server >/dev/null \
     && ! "$VENV_BIN/python" -c "import redis; redis.Redis(port=$XIESHANG_REDIS_PORT, socket_timeout=2).ping()" 2>/dev/null; then
    echo "==> starting a local Redis (keeps nothing on disk)"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$XIESHANG_REDIS_PORT" --save "" --appendonly no \
      --logfile "$XIESHANG_VAR/redis.log" >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 20); do services_up 2>/dev/null && return 0; sleep 0.5; done
  echo "PostgreSQL（$XIESHANG_PG_HOST:$XIESHANG_PG_PORT）或 Redis（$XIESHANG_REDIS_HOST:$XIESHANG_REDIS_PORT）连接不上，请先启动它们。" >&2
  services_up || true
  return 1
}

if [ "${1:-}" = "--services" ]; then
  ensure_services
  exit $?
fi

if [ "${1:-}" != "--nginx-config" ]; then
  model=$("$VENV_BIN/python" scripts/train.py --path)
  [ -f "$model" ] || { echo "没有找到训练好的模型，请先运行 make train。" >&2; exit 1; }
  ensure_services
fi

# nginx from Debian's packages, installed quietly when missing
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
  echo "==> installing nginx (Debian package)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq nginx >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq nginx >/dev/null 2>&1; } \
    || { echo "无法安装 nginx（apt-get install nginx 失败）。" >&2; exit 1; }
  # the package may start a system-wide nginx on port 80; this profile runs its own, on loopback
  $SUDO invoke-rc.d nginx stop >/dev/null 2>&1 || true
  NGINX=/usr/sbin/nginx
fi

# nginx configuration, generated into var/nginx/
NGX="$XIESHANG_VAR/nginx"
mkdir -p "$NGX/tmp"
any=""; sticky=""
for i in $(seq 1 "$REPLICAS"); do
  any+="    server 127.0.0.1:$((BOT_PORT + i)) max_fails=1 fail_timeout=5s;"$'\n'
  sticky+="    server 127.0.0.1:$((BOT_PORT + i));"$'\n'
done
cat > "$NGX/nginx.conf" <<EOF
# generated by scripts/run_scaled.sh — edits are overwritten at the next start
worker_processes 1;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 1024; }
http {
  # no access log: URLs and addresses of people in debt stay off the disk
  access_log off;
  client_body_temp_path $NGX/tmp/body;
  proxy_temp_path $NGX/tmp/proxy;
  fastcgi_temp_path $NGX/tmp/fastcgi;
  uwsgi_temp_path $NGX/tmp/uwsgi;
  scgi_temp_path $NGX/tmp/scgi;
  client_max_body_size 1m;
  # keep bodies and answers in memory: no temp files (workers may not write to var/)
  client_body_buffer_size 1m;
  proxy_max_temp_file_size 0;
  server_tokens off;
  include /etc/nginx/mime.types;

  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }

  # REST channel, web chat files, HTTP API: any replica
  upstream rasa_any {
$any  }
  # socket.io: one client stays on one replica (its session lives in that replica's memory)
  upstream rasa_sticky {
    ip_hash;
$sticky  }

  server {
    listen 127.0.0.1:$BOT_PORT;
    proxy_http_version 1.1;
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_read_timeout 300s;
    proxy_next_upstream error timeout http_502 http_503;

    location /socket.io/ {
      proxy_pass http://rasa_sticky;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_buffering off;
    }
    location / {
      proxy_pass http://rasa_any;
    }
  }
}
EOF
"$NGINX" -t -q -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf"
if [ "${1:-}" = "--nginx-config" ]; then
  echo "$NGX/nginx.conf"
  exit 0
fi

pids=()
cleanup() { trap - INT TERM EXIT; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT

SANIC_HOST=127.0.0.1 "$VENV_BIN/python" -m rasa_sdk --actions actions --port "$ACTIONS_PORT" --quiet &
pids+=($!)

for i in $(seq 1 "$REPLICAS"); do
  port=$((BOT_PORT + i))
  echo "==> starting Rasa replica $i on 127.0.0.1:$port"
  "$VENV_BIN/python" -m bot.serve run --model "$model" \
    --endpoints bot/endpoints-scaled.yml --credentials bot/credentials.yml \
    -i 127.0.0.1 --port "$port" \
    --enable-api --auth-token "$RASA_AUTH_TOKEN" \
    --cors "${XIESHANG_CORS:-http://$BOT_HOST:$BOT_PORT}" \
    --log-file "$XIESHANG_VAR/rasa-$i.log" &
  pids+=($!)
  if [ "$i" = 1 ]; then
    # the first replica creates the database and its tables; the others start once it answers
    for _ in $(seq 1 480); do
      curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
      kill -0 "${pids[-1]}" 2>/dev/null || { echo "Rasa 副本 1 启动失败，见 $XIESHANG_VAR/rasa-1.log" >&2; exit 1; }
      sleep 0.5
    done
  fi
done

"$NGINX" -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" &
pids+=($!)

all_up() {
  curl -fsS "http://127.0.0.1:$BOT_PORT/" >/dev/null 2>&1 || return 1
  for i in $(seq 1 "$REPLICAS"); do curl -fsS "http://127.0.0.1:$((BOT_PORT + i))/" >/dev/null 2>&1 || return 1; done
}
for _ in $(seq 1 480); do
  if all_up; then
    echo
    echo "  协商助手（$REPLICAS 个副本 + nginx）已启动 ✅"
    echo "  网页聊天:  http://127.0.0.1:$BOT_PORT/chat"
    echo "  REST 接口: POST http://127.0.0.1:$BOT_PORT/webhooks/rest/webhook"
    echo "  对话保存在 PostgreSQL $XIESHANG_PG_HOST:$XIESHANG_PG_PORT/$XIESHANG_PG_DB，锁在 Redis"
    echo "  按 Ctrl-C 停止"
    break
  fi
  sleep 0.5
done
wait -n "${pids[@]}"
