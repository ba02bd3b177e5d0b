#!/usr/bin/env bash
# Installs what medview needs on a Debian/Ubuntu machine: system libraries for Qt/OpenGL and Xvfb,
# a virtual environment in .venv with torch pinned and installed first (an unpinned torch would pull
# several GB of CUDA packages), then medview, its bundled model plugins and the test tools.
# Idempotent (a second run only checks) and never prompts.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
# "a|b": either name will do (Debian 13 and Ubuntu 24.04 renamed some libraries with a t64 suffix).
SYSTEM_PACKAGES=(
  python3 python3-venv python3-pip xvfb xauth "libglib2.0-0|libglib2.0-0t64"
  libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0
  libdbus-1-3 libfontconfig1
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
missing=()
for choice in "${SYSTEM_PACKAGES[@]}"; do
  found=""
  for package in ${choice//|/ }; do installed "$package" && found=yes; done
  [ -n "$found" ] || missing+=("$choice")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  $sudo apt-get update -qq
  for index in "${!missing[@]}"; do  # of "a|b", the first name this distribution has
    for package in ${missing[$index]//|/ }; do
      if apt-cache show "$package" >/dev/null 2>&1; then missing[$index]=$package; break; fi
    done
  done
  echo "setup: installing system packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)

# Reinstall only when the package definitions changed since the last successful run.
stamp=.venv/.medview-installed
wanted=$(cat pyproject.toml plugins/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || ! .venv/bin/python -c "import medview, medview_plugins" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION, then medview into .venv"
  "${pip[@]}" install "torch==$TORCH_VERSION"
  "${pip[@]}" install -e ".[test]" -e ./plugins
  echo "$wanted" > "$stamp"
fi
echo "setup: ready ($(.venv/bin/medview --version))"
