#!/busybox sh
# PID 1 of the fixture VM (see tools/vm/initramfs.ts). Mounts the kernel file systems, loads the
# modules listed in /modules/order, mounts the host's read-only 9p shares (usr → /usr, repo → the
# checkout at its host path, denobin → the deno binary's directory, ctl → /run/ctl, the only
# writable share), brings up the network QEMU's user mode gives (10.0.2.15/24 via 10.0.2.2),
# runs /run/ctl/run.sh, writes its exit code to /run/ctl/rc and powers off.
# Parameters come from the kernel command line: osprey.repo=<path> osprey.deno=<dir>.
B=/busybox
$B mkdir -p /proc /sys /dev /tmp /run /usr /root /var/tmp /mnt
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
$B mount -t tmpfs -o mode=1777 tmpfs /tmp
$B mount -t tmpfs -o mode=755 tmpfs /run
$B mount -t cgroup2 cgroup2 /sys/fs/cgroup
$B mount -t bpf bpf /sys/fs/bpf
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$B mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
$B mkdir -p /dev/pts /dev/shm && $B mount -t devpts devpts /dev/pts && $B mount -t tmpfs tmpfs /dev/shm
for m in $($B cat /modules/order); do
  $B insmod "/modules/$m" || echo "init: insmod $m failed"
done
REPO= DENODIR=
for w in $($B cat /proc/cmdline); do
  case "$w" in
    osprey.repo=*) REPO=${w#osprey.repo=} ;;
    osprey.deno=*) DENODIR=${w#osprey.deno=} ;;
  esac
done
o=trans=virtio,version=9p2000.L,msize=262144
$B mount -t 9p -o "$o,ro,cache=loose" usr /usr || echo "init: cannot mount /usr"
for l in bin sbin lib lib64; do $B ln -s "usr/$l" "/$l"; done
$B mkdir -p /run/ctl "$REPO" "$DENODIR"
$B mount -t 9p -o "$o,ro,cache=mmap" repo "$REPO" || echo "init: cannot mount $REPO"
$B mount -t 9p -o "$o,ro,cache=loose" denobin "$DENODIR" || echo "init: cannot mount $DENODIR"
$B mount -t 9p -o "$o" ctl /run/ctl || echo "init: cannot mount /run/ctl"
$B hostname osprey-vm
$B ip link set lo up
$B ip link set eth0 up && $B ip addr add 10.0.2.15/24 dev eth0 && $B ip route add default via 10.0.2.2
export PATH=$DENODIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/root
export DENO_DIR=/tmp/deno-dir DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 RUST_BACKTRACE=0
echo "init: up in $($B cut -d' ' -f1 /proc/uptime) s (kernel $($B uname -r))"
cd "$REPO"
/bin/sh /run/ctl/run.sh
echo $? > /run/ctl/rc
$B sync
$B poweroff -f
