#!/usr/bin/env bash
# Print the path of a trained Rasa model for the current bot/ and nlu_data/,
# training only when no model exists for the hash of those inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cache_root=${HOTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hotline}
models="$cache_root/models"
mkdir -p "$models"
# chinese_numbers/: the NLU normaliser (bot/hotline_nlu/normalize.py) reads digits with it.
hash=$(find bot nlu_data chinese_numbers -type f \
         -not -path 'bot/tests/*' -not -path 'bot/actions/*' -not -path 'nlu_data/policies/*' \
         -not -path 'bot/run_*.py' -not -path 'bot/endpoints.yml' -not -path 'bot/credentials.yml' \
         -not -path 'bot/README.md' -not -path 'bot/ruff.toml' -not -path 'bot/mypy.ini' -not -path 'bot/hotline_nlu/channel.py' -not -path 'bot/hotline_nlu/tracker_store.py' \
         -not -path '*/__pycache__/*' -not -path 'bot/.rasa/*' -not -path 'bot/models/*' \
         -not -path '*/.ruff_cache/*' -not -path '*/.mypy_cache/*' -not -path '*/.pytest_cache/*' -print0 \
       | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
model="$models/hotline-$hash.tar.gz"
if [ ! -s "$model" ]; then
  log="$models/train-$hash.log"
  echo "==> training the assistant (inputs changed; about a minute). Log: $log" >&2
  # Only the YAML training data: nlu_data/policies holds the policy corpus, not NLU examples.
  mapfile -t nlu_files < <(find nlu_data -name '*.yml' -not -path 'nlu_data/policies/*' | sort | sed 's|^|../|')
  if ! (cd bot && RASA_TELEMETRY_ENABLED=false PYTHONPATH=. ../.venv-bot/bin/rasa train \
          --data data "${nlu_files[@]}" --domain domain.yml --config config.yml \
          --out "$models" --fixed-model-name "hotline-$hash" >"$log" 2>&1); then
    echo "ERROR: step 'train the assistant' failed; see $log (fix the training data, then run again)" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  echo "==> trained $model" >&2
fi
echo "$model"
