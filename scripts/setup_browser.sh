#!/usr/bin/env bash
# The browser tests drive Debian's chromium through Playwright (never a downloaded browser), and
# screenshots need a CJK font (and an emoji font) or Chinese shows as boxes. Install both when missing (Debian/Ubuntu,
# as root or with sudo); apt-get update only when the package lists do not know them yet.
# Never fails the caller: without chromium the browser tests say so themselves.
set -uo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
fi
# the bot's replies use a few emoji (✅ 🙂); without this font screenshots show boxes
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || need+=(fonts-noto-color-emoji)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "⚠️  没有 apt-get：请自行安装 ${need[*]}（浏览器测试需要 /usr/bin/chromium）。" >&2
  exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
    echo "⚠️  需要 root 权限安装 ${need[*]}：请运行 sudo apt-get install -y ${need[*]}" >&2
    exit 0
  fi
fi

# wait for another apt/dpkg run (e.g. unattended upgrades) to finish, at most 10 minutes
for _ in $(seq 1 120); do
  if command -v fuser >/dev/null 2>&1 && fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1; then
    sleep 5
  else
    break
  fi
done

echo "==> installing ${need[*]} for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then
  "${sudo[@]}" apt-get update -qq >/dev/null || true
fi
"${sudo[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null \
  || echo "⚠️  安装 ${need[*]} 失败，浏览器测试将无法运行。" >&2
exit 0
