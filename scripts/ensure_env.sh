#!/usr/bin/env bash
# Make (or reuse) one of the project's two Python environments.
#   scripts/ensure_env.sh app   -> .venv      (Python 3.11, the app)
#   scripts/ensure_env.sh bot   -> .venv-bot  (Python 3.10, Rasa 3.6)
# The bot environment is large (~2.7 GB), so it is built once per lock file in a
# shared cache and linked here: a clone whose requirements did not change reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
which_env=${1:?usage: ensure_env.sh app|bot}
cache_root=${HOTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hotline}

find_python() {  # $1 = version like 3.10
  local v=$1 candidate
  for candidate in "python$v" "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/$v"*/bin/python)" \
                   "$HOME/.pyenv/versions/$v"*/bin/python "/usr/bin/python$v" "/usr/local/bin/python$v"; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$v'.split('.')))" >/dev/null 2>&1; then
      command -v "$candidate" 2>/dev/null || echo "$candidate"
      return 0
    fi
  done
  return 1
}

build() {  # $1 = python, $2 = target dir, $3 = lock file, $4.. = extra pip args
  # Built in place (a venv cannot be moved); `.complete` marks a finished build.
  local py=$1 target=$2 lock=$3
  rm -rf "$target"
  echo "==> creating $target with $("$py" --version 2>&1)"
  "$py" -m venv "$target"
  "$target/bin/python" -m pip install --quiet --upgrade pip
  echo "==> installing $(wc -l < "$lock") pinned packages from $lock (a few minutes; progress below)"
  if ! "$target/bin/python" -m pip install --progress-bar on -r "$lock" > "$target.log" 2>&1; then
    echo "ERROR: pip failed while installing $lock into $target; see $target.log" >&2
    tail -n 20 "$target.log" >&2
    exit 1
  fi
}

case "$which_env" in
  app)
    stamp=".venv/.lock-$(sha256sum requirements/app.lock pyproject.toml | sha256sum | cut -c1-16)"
    [ -f "$stamp" ] && exit 0
    py=$(find_python 3.11) || { echo "ERROR: Python 3.11 not found. Install it (e.g. 'apt-get install python3.11 python3.11-venv' or 'pyenv install 3.11')." >&2; exit 1; }
    [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; assert sys.version_info[:2]==(3,11)' 2>/dev/null || { rm -rf .venv; "$py" -m venv .venv; }
    echo "==> installing the app environment from requirements/app.lock"
    .venv/bin/python -m pip install --quiet --upgrade pip
    if ! .venv/bin/python -m pip install -r requirements/app.lock > .venv/install.log 2>&1; then
      echo "ERROR: pip failed while installing requirements/app.lock; see .venv/install.log" >&2
      tail -n 20 .venv/install.log >&2
      exit 1
    fi
    .venv/bin/python -m pip check >/dev/null || { echo "ERROR: the app environment is inconsistent (pip check)" >&2; .venv/bin/python -m pip check >&2; exit 1; }
    .venv/bin/python -m pip install --quiet --no-deps -e . > /dev/null 2>&1
    rm -f .venv/.lock-*; touch "$stamp"
    ;;
  bot)
    py=$(find_python 3.10) || { echo "ERROR: Python 3.10 not found; Rasa 3.6 needs it. Install it (e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv')." >&2; exit 1; }
    key=$(cat requirements/bot.lock <("$py" --version 2>&1) | sha256sum | cut -c1-16)
    target="$cache_root/envs/bot-$key"
    if [ ! -f "$target/.complete" ]; then
      mkdir -p "$cache_root/envs"
      build "$py" "$target" requirements/bot.lock
      touch "$target/.complete"
    fi
    if [ "$(readlink .venv-bot 2>/dev/null)" != "$target" ]; then
      rm -rf .venv-bot
      ln -s "$target" .venv-bot
    fi
    ;;
  *) echo "usage: ensure_env.sh app|bot" >&2; exit 2 ;;
esac
