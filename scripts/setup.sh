#!/usr/bin/env bash
# Install what is missing from scripts/debian-packages.txt, then configure and
# build with the "default" CMake preset. Safe to run again: it only does what
# is left to do. --tests also installs scripts/debian-packages-test.txt (the
# real readers the tests use: LAVA, compare.py), without failing when it
# cannot: those tests then SKIP with what build/test-packages.log says.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
[[ ${1:-} == --tests ]] && tests=1

missing_from() {
  local pkg
  for pkg in $(grep -v -E '^\s*(#|$)' "$1"); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      echo "$pkg"
    fi
  done
}

mapfile -t missing < <(missing_from scripts/debian-packages.txt)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 2
  fi
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ((tests)); then
  mkdir -p build
  mapfile -t missing < <(missing_from scripts/debian-packages-test.txt)
  log=build/test-packages.log
  if ((${#missing[@]})) && [[ $(id -u) -ne 0 ]]; then
    echo "not root: cannot install ${missing[*]}" >"$log"
  elif ((${#missing[@]})); then
    echo "setup: installing ${#missing[@]} Debian packages for the tests: ${missing[*]}" >&2
    start=$SECONDS
    # lava-dispatcher ships a lava-worker unit; without systemd running (or
    # with a policy-rc.d that forbids it) its postinst starts nothing.
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
      echo "setup: test packages installed in $((SECONDS - start)) s" | tee -a "$log" >&2
    else
      echo "setup: could not install ${missing[*]} (the tests that need them will SKIP): $(tail -1 "$log")" >&2
    fi
  else
    echo "all installed: $(grep -v -E '^\s*(#|$)' scripts/debian-packages-test.txt | tr '\n' ' ')" >"$log"
  fi
fi

cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"
