#!/bin/busybox sh
# shellcheck shell=dash
# /init of the initramfs tests/python/test_kmod.py boots: load pasidlab.ko
# under each policy named in /etc/pasidlab/policies (one boot, insmod and
# rmmod per policy), run the workloads, then the checks that need one policy
# only (bad input, unload while bound, the unprivileged fuzz), then print the
# kernel log and power off. Lines for the test start with "PLTEST ".
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
# A task stuck in the kernel shows with its stack after 20 s.
echo 20 > /proc/sys/kernel/hung_task_timeout_secs
echo 7 > /proc/sys/kernel/printk
echo "PLTEST BOOT $(uname -r) up after $(cut -d' ' -f1 /proc/uptime) s"

t=/pasidlab_test
workloads() {
  $t clone-bind-exit 4 8
  $t thread-pool 3 8 stays
  $t thread-pool 3 8 unbinds
  $t thread-pool 3 8 exits
  $t long-lived-binders 3 3 8
  $t stale-holder
  $t fork-child
  $t exec-rebind
}

# A policy the module does not know fails the load, naming the policies.
if insmod /pasidlab.ko policy=no-such-policy 2>/dev/null; then
  echo "PLTEST BADPARAM loaded"
  rmmod pasidlab
else
  echo "PLTEST BADPARAM refused"
fi

while read -r policy params; do
  [ -n "$policy" ] || continue
  # One line: a policy and optional module parameters ("resync-ipi device_delay_us=2000").
  label=$policy${params:+@$params}
  start=$(cut -d' ' -f1 /proc/uptime)
  # shellcheck disable=SC2086 # the parameters are words
  if ! insmod /pasidlab.ko policy="$policy" $params; then
    echo "PLTEST INSMOD failed $label"
    continue
  fi
  echo "PLTEST POLICY $label"
  workloads
  sleep 0.2  # lazy-TLB mm references drop: __mmdrop frees mm-lifetime PASIDs
  echo "PLTEST DEBUGFS $label $(tr '\n' ' ' < /sys/kernel/debug/pasidlab/counters)"
  if rmmod pasidlab; then
    echo "PLTEST RMMOD ok $label $start $(cut -d' ' -f1 /proc/uptime)"
  else
    echo "PLTEST RMMOD failed $label"
  fi
done < /etc/pasidlab/policies

fuzz_policy=$(cat /etc/pasidlab/fuzz-policy)
if insmod /pasidlab.ko policy="$fuzz_policy"; then
  $t bad-input
  $t unload-while-bound
  fuzz_calls=$(cat /etc/pasidlab/fuzz-calls)
  $t fuzz "$fuzz_calls" 1 65534
  echo "PLTEST FUZZ exit $?"
  $t bad-input 65534
  rmmod pasidlab && echo "PLTEST RMMOD ok after-fuzz"
else
  echo "PLTEST INSMOD failed $fuzz_policy"
fi

# pasidbench itself, when the image has it: a suite under each policy
# named in a list, one run per policy so that the module is loaded once per
# policy (each load and unload patches kernel text, which is slow and was
# seen to hang a 6.1 TCG guest once), records out on the second serial
# port, where no kernel message can break a line.
pasidbench_suite() {  # TAG SUITE POLICY-LIST
  [ -f "$3" ] || return 0
  echo "PLTEST $1 BEGIN $(cut -d' ' -f1 /proc/uptime)"
  suite_rc=0
  while read -r policy; do
    [ -n "$policy" ] || continue
    out="/tmp/$1-$(echo "$policy" | tr / _)"
    PASIDBENCH_HOME=/opt/pasidbench HOME=/tmp TMPDIR=/tmp \
      /opt/pasidbench/pasidbench run "/opt/pasidbench/suites/$2" \
      --backend "kmod:$policy" --param module=/pasidlab.ko \
      --out "$out" >"$out.txt" 2>&1 || suite_rc=1
    sed "s/^/PLTEST $1LOG /" "$out.txt"
    cat "$out/results.jsonl" >/dev/ttyS1
  done < "$3"
  echo "PLTEST $1 END rc=$suite_rc $(cut -d' ' -f1 /proc/uptime)"
  if lsmod | grep -q '^pasidlab '; then rmmod pasidlab; fi
}

if [ -x /opt/pasidbench/pasidbench ]; then
  mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
  pasidbench_suite SUITE kmod.toml /etc/pasidbench/kmod-policies
  # The differential test: a mutant's run fails by design (its violation
  # is the point); the verdicts are diff-model's, on the host.
  pasidbench_suite DIFF "$(cat /etc/pasidbench/differential-suite 2>/dev/null)" \
    /etc/pasidbench/differential-policies
fi

echo "PLTEST DMESG BEGIN"
dmesg
echo "PLTEST DMESG END"
echo "PLTEST DONE"
sync
poweroff -f
