#!/usr/bin/env bash
# Builds pasidlab.ko for one kernel build, warning-free (-Werror).
#
#   build.sh --kernel-package linux-image-6.1.0-57-amd64=6.1.192-3 --out DIR
#   build.sh --manifest kernels/debian-6.1-amd64.toml --out DIR
#   build.sh --kdir /lib/modules/$(uname -r)/build --out DIR
#
# A Debian kernel's headers come as packages: linux-headers-<abi>-<flavour>,
# the -common tree it includes, linux-kbuild-* (and pahole for 6.12's BTF
# step). They are fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` into the cache, never installed; the flavour Makefile's one
# absolute include is pointed at the unpacked -common tree. The module is
# built in a copy of the sources under the cache, keyed by the headers and a
# hash of the sources and the compiler, so nothing is written into the
# repository or outside the cache and --out. Prints the .ko's path.
#
# Cache: --cache DIR, else $PASIDBENCH_CACHE/pasidlab, else
# $XDG_CACHE_HOME/pasidbench/pasidlab, else ~/.cache/pasidbench/pasidlab.
# Exit codes: 0 built; 1 the build failed (its log is printed); 2 bad input;
# 3 the kernel's packages cannot be fetched (the reason is printed: a caller
# may SKIP on it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=$(basename "$0")
die() { echo "$prog: $1" >&2; exit "${2:-2}"; }
unavailable() { echo "$prog: cannot fetch the kernel's headers: $*" >&2; exit 3; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

kernel_package='' manifest='' kdir='' out='' cache=''
while (($#)); do
  case $1 in
    --kernel-package) kernel_package=${2:?}; shift 2 ;;
    --manifest) manifest=${2:?}; shift 2 ;;
    --kdir) kdir=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --cache) cache=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n $out ]] || die "--out DIR is required"
(( (${#kernel_package} > 0) + (${#manifest} > 0) + (${#kdir} > 0) == 1 )) ||
  die "give exactly one of --kernel-package, --manifest, --kdir"

if [[ -z $cache ]]; then
  if [[ -n ${PASIDBENCH_CACHE:-} ]]; then cache=$PASIDBENCH_CACHE/pasidlab
  elif [[ -n ${XDG_CACHE_HOME:-} ]]; then cache=$XDG_CACHE_HOME/pasidbench/pasidlab
  else cache=${HOME:-/tmp}/.cache/pasidbench/pasidlab
  fi
fi
mkdir -p "$cache" "$out"
cache=$(cd "$cache" && pwd)
out=$(cd "$out" && pwd)
# One build at a time per cache: two runs share the header trees.
exec 9>"$cache/.lock"
flock 9

# The candidate (or pinned) version of a package, from apt's lists.
candidate() {
  apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -1
}

# "linux-image-6.1.0-*-amd64" -> the highest ABI number apt knows, as the lab
# resolves it (runners/lab/kernel_fetch.cc).
resolve_pattern() {
  local pattern=$1 head tail best='' best_abi=-1 name abi
  if [[ $pattern != *'*'* ]]; then echo "$pattern"; return; fi
  head=${pattern%%\**} tail=${pattern#*\*}
  while read -r name; do
    [[ $name == "$head"*"$tail" ]] || continue
    abi=${name#"$head"}; abi=${abi%"$tail"}
    [[ $abi =~ ^[0-9]+$ ]] || continue
    if ((10#$abi > best_abi)); then best=$name best_abi=$((10#$abi)); fi
  done < <(apt-cache pkgnames "$head" 2>/dev/null)
  [[ -n $best ]] || unavailable "no package matches $pattern in this machine's apt lists"
  echo "$best"
}

# One key of the [source] table of a kernel manifest (a string value).
manifest_value() {
  awk -v key="$2" '
    /^\[/ { in_source = ($0 ~ /^\[source\]/) }
    in_source && $1 == key && $2 == "=" {
      sub(/^[^=]*=[ \t]*"/, ""); sub(/".*$/, ""); print; exit
    }' "$1"
}

if [[ -n $manifest ]]; then
  [[ -f $manifest ]] || die "$manifest: no such file"
  type=$(manifest_value "$manifest" type)
  [[ $type == debian ]] || die "$manifest: [source] type is '$type'; only debian manifests name header packages (use --kdir for a built tree)"
  pkg=$(resolve_pattern "$(manifest_value "$manifest" package)")
  ver=$(manifest_value "$manifest" version)
  [[ -n $ver ]] || ver=$(candidate "$pkg")
  [[ -n $ver ]] || unavailable "apt knows no version of $pkg"
  kernel_package=$pkg=$ver
fi

fetch_headers() {
  local image=${kernel_package%%=*} version=${kernel_package#*=}
  [[ $kernel_package == *=* && -n $version ]] || die "--kernel-package wants NAME=VERSION"
  [[ $image == linux-image-* ]] || die "--kernel-package: $image is not a linux-image-* package"
  local headers=linux-headers-${image#linux-image-}
  local tree=$cache/headers/${headers}_$version
  if [[ ! -f $tree/.unpacked ]]; then
    echo "$prog: fetching $headers=$version and what it depends on" >&2
    local depends
    depends=$(apt-cache show "$headers=$version" 2>/dev/null | sed -n 's/^Depends: //p' | head -1) ||
      true
    [[ -n $depends ]] || unavailable "apt-cache show $headers=$version: no such package or version"
    # Depends alternatives: the first of each; only the trees kbuild needs.
    local -a want=("$headers=$version")
    local dep name
    while read -r dep; do
      name=${dep%% *}
      case $name in
        linux-headers-*) want+=("$name=$version") ;;
        linux-kbuild-*)
          want+=("$name")
          # Not piped into grep -q: under pipefail, apt-cache's SIGPIPE when
          # grep exits early made the test fail now and then (no pahole).
          local kbuild_info
          kbuild_info=$(apt-cache show --no-all-versions "$name" 2>/dev/null) || true
          if grep -q '^Depends:.*\bpahole\b' <<<"$kbuild_info"; then
            want+=(pahole)
          fi
          ;;
      esac
    done < <(tr ',' '\n' <<<"$depends" | sed -e 's/|.*//' -e 's/^ *//')
    rm -rf "$tree"
    mkdir -p "$tree/debs"
    local log
    if ! log=$(cd "$tree/debs" && apt-get download -q "${want[@]}" 2>&1); then
      rm -rf "$tree"
      unavailable "apt-get download ${want[*]}: $(tail -1 <<<"$log")"
    fi
    local deb
    for deb in "$tree"/debs/*.deb; do dpkg-deb -x "$deb" "$tree/root"; done
    rm -rf "$tree/debs"
    # The flavour Makefile includes the -common tree by an absolute path;
    # point it into the unpacked copy (unfixed, it would silently use a tree
    # installed on this machine, or fail).
    local flavour=$tree/root/usr/src/$headers
    [[ -f $flavour/Makefile ]] || die "$headers=$version holds no usr/src/$headers/Makefile" 1
    sed -i "s#^include /usr/src/#include $tree/root/usr/src/#" "$flavour/Makefile"
    echo "$headers=$version" >"$tree/.unpacked"
  fi
  kdir=$tree/root/usr/src/$headers
  if [[ -x $tree/root/usr/bin/pahole ]]; then export PATH=$tree/root/usr/bin:$PATH; fi
  build_id=$headers=$version
}

if [[ -n $kernel_package ]]; then
  fetch_headers
else
  [[ -f $kdir/Makefile ]] || die "$kdir: not a kernel build tree (no Makefile)"
  kdir=$(cd "$kdir" && pwd -P)
  build_id=kdir:$kdir
fi

# uname -r of the kernel (Debian's headers answer `make kernelrelease` with
# the upstream version, not the release the image reports).
release=$(sed -n 's/.*UTS_RELEASE "\(.*\)".*/\1/p' "$kdir/include/generated/utsrelease.h" \
  2>/dev/null || true)
[[ -n $release ]] || release=unknown
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\(.*\)"/\1/p' "$kdir/.config" 2>/dev/null || true)

# The key: the headers, every source file, this script and the compiler.
mapfile -t sources < <(cd "$here" && ls Kbuild Makefile ./*.c ./*.h uapi/*.h)
key=$( {
  echo "$build_id" "$cc"
  (cd "$here" && sha256sum "${sources[@]}")
  sha256sum "$0" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
work=$cache/build/$release-$key
if [[ ! -f $work/pasidlab.ko ]]; then
  echo "$prog: building pasidlab.ko for $release ($build_id)" >&2
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$here" && cp --parents "${sources[@]}" "$work/")
  start=$(date +%s.%N)
  if ! make -C "$kdir" M="$work" KCFLAGS=-Werror W=1 modules >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    mv "$work" "$work.failed.$$" 2>/dev/null || true
    die "module build for $release failed (log above)" 1
  fi
  # -Werror catches the compiler; kbuild's own warnings (modpost, objtool,
  # BTF) are not errors, so a warning anywhere in the log fails the build.
  if grep -i 'warning' "$work/build.log" >&2; then
    mv "$work" "$work.failed.$$" 2>/dev/null || true
    die "module build for $release printed warnings (above)" 1
  fi
  echo "$prog: built in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s" >&2
fi
cp "$work/pasidlab.ko" "$out/pasidlab.ko"
cp "$work/build.log" "$out/build.log"
echo "$release $build_id" >"$out/pasidlab.release"
echo "$out/pasidlab.ko"
