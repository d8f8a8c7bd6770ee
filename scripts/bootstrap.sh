#!/usr/bin/env bash
# Create .venv at the repository root from the locked dependency set (uv.lock). Installs uv itself if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  if [ -x "$HOME/.local/bin/uv" ]; then
    export PATH="$HOME/.local/bin:$PATH"
  else
    echo "Installing uv (Python package manager) from PyPI..."
    python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
    export PATH="$HOME/.local/bin:$PATH"
  fi
fi
uv sync --frozen --all-extras --quiet
echo "Environment ready: .venv/bin/bold"
