#!/usr/bin/env bash
# Checks the module's sources with the kernel's scripts/checkpatch.pl
# (--no-tree --strict -f, every file), taken from Debian's linux-source-6.1
# package: downloaded with `apt-get download` and only checkpatch.pl and its
# data files (spelling.txt, const_structs.checkpatch) extracted into the
# cache, never installed.
#
#   checkpatch.sh [--cache DIR] [FILE...]     default: every .c/.h of the module
#
# Exit codes: 0 clean; 1 checkpatch complained (its report is printed); 2 bad
# input; 3 the package cannot be fetched (the reason is printed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=$(basename "$0")
package=linux-source-6.1
cache=''
files=()
while (($#)); do
  case $1 in
    --cache) cache=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "$prog: unknown option $1" >&2; exit 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
if [[ -z $cache ]]; then
  if [[ -n ${PASIDBENCH_CACHE:-} ]]; then cache=$PASIDBENCH_CACHE/pasidlab
  elif [[ -n ${XDG_CACHE_HOME:-} ]]; then cache=$XDG_CACHE_HOME/pasidbench/pasidlab
  else cache=${HOME:-/tmp}/.cache/pasidbench/pasidlab
  fi
fi
if ((${#files[@]} == 0)); then
  for f in "$here"/*.c "$here"/*.h "$here"/uapi/*.h "$here"/tests/*.c; do files+=("$f"); done
fi

version=$(apt-cache show --no-all-versions "$package" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
if [[ -z $version ]]; then
  echo "$prog: cannot fetch checkpatch.pl: apt knows no $package (apt-get update?)" >&2
  exit 3
fi
dir=$cache/checkpatch/$package-$version
if [[ ! -f $dir/checkpatch.pl ]]; then
  echo "$prog: extracting checkpatch.pl from $package=$version" >&2
  tmp=$cache/checkpatch/tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  if ! log=$(cd "$tmp" && apt-get download -q "$package=$version" 2>&1); then
    echo "$prog: cannot fetch checkpatch.pl: apt-get download $package=$version: $(tail -1 <<<"$log")" >&2
    exit 3
  fi
  # The package holds the tree as one tarball: stream it, keep three files.
  dpkg-deb --fsys-tarfile "$tmp"/*.deb |
    tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
    xz -dc |
    tar -x -C "$tmp" --wildcards --strip-components=2 \
      '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
  mkdir -p "$dir"
  mv "$tmp"/checkpatch.pl "$tmp"/spelling.txt "$tmp"/const_structs.checkpatch "$dir"/
fi

# --no-tree: no kernel tree to look things up in; the data files sit beside
# the script, where checkpatch looks for them.
status=0
for f in "${files[@]}"; do
  if ! out=$(perl "$dir/checkpatch.pl" --no-tree --strict --terse --show-types -f "$f" 2>&1); then
    status=1
  fi
  # --terse prints nothing for a clean file.
  if [[ -n $out ]]; then
    status=1
    echo "$out"
  fi
done
((status == 0)) && echo "$prog: ${#files[@]} files clean (checkpatch.pl from $package=$version)"
exit "$status"
