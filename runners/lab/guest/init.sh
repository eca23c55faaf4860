#!/bin/busybox sh
# /init of the initramfs `pasidbench lab` boots each kernel with: mount the
# kernel's filesystems, load the results channel's drivers, run the agent
# (which runs the suite and streams its records to the host over the
# virtio-serial port), power off. Anything printed here lands in the
# console log the lab keeps beside the results; records never go that way.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /tmp
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
for word in $(cat /proc/cmdline); do
  case "$word" in
    pasidbench.hostname=*) hostname "${word#*=}" ;;
  esac
done
echo "pasidbench-init: $(uname -r) up after $(cut -d' ' -f1 /proc/uptime) s"

# Dependencies first (the host ordered them from each module's modinfo).
while read -r module; do
  [ -n "$module" ] || continue
  insmod "/lib/modules/pasidbench/$module.ko" || echo "pasidbench-init: insmod $module failed"
done < /etc/pasidbench/modules

# One argument per line, so nothing in them is split or expanded.
set --
while IFS= read -r arg; do set -- "$@" "$arg"; done < /etc/pasidbench/agent.args
export PASIDBENCH_HOME=/opt/pasidbench HOME=/root TMPDIR=/tmp
cd /results
"$@"
echo "pasidbench-init: agent exited with status $?"
sync
poweroff -f
