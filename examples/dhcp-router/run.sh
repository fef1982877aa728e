#!/usr/bin/env bash
# A router namespace on the bridge runs dnsmasq; two hosts attached with no address get their
# addresses by DHCP through the switch, then reach the router and each other with them.
#
#   examples/dhcp-router/run.sh [--standalone] [--keep]
#
# By default the bundled controller (learning only, every port in VLAN 1) drives the bridge, so
# the DHCP broadcasts go up as packet-ins and are flooded by it; --standalone: NORMAL.
#
#   host (ns): ofswitch br0
#     router (ns) eth0 10.73.0.1/24    dnsmasq, range 10.73.0.100-10.73.0.150
#     h1 (ns) eth0 (no address)   <- DHCP    h2 (ns) eth0 (no address)   <- DHCP
#
# The hosts' DHCP client is busybox udhcpc with a script of ours that only puts the address on
# eth0 (nothing else: /etc/resolv.conf is never touched).
source "$(dirname "$0")/../lib.sh"

example_args "$@"
need dnsmasq busybox

step "a host with bridge br0; a router with a static address, two hosts with none"
host host
ofs host vsctl add-br br0
if [ "$MODE" = controller ]; then
  controller host 127.0.0.1
  controlled host 127.0.0.1 br0
  wait_resynced 1
  say "the bundled controller drives br0 (learning only)"
fi
container host br0 router 10.73.0.1/24
for h in h1 h2; do
  netns "$h"
  show ofs host vsctl add-netns-port br0 "$P$h" "$P$h" --ifname=eth0
done
show at h1 ip -br addr show dev eth0

step "dnsmasq in the router namespace: DHCP only (no DNS), leases to $WORK/leases"
ip netns exec "${P}router" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --port=0 \
  --user=root --no-ping --interface=eth0 --bind-interfaces --pid-file="$WORK/dnsmasq.pid" \
  --dhcp-range=10.73.0.100,10.73.0.150,255.255.255.0,1h --dhcp-option=option:router,10.73.0.1 \
  --dhcp-leasefile="$WORK/leases" --log-dhcp 2>"$WORK/dnsmasq.log" &
EX_PIDS+=($!)
for _ in $(seq 50); do at router ss -lun | grep -q ':67 ' && break; sleep 0.1; done
at router ss -lun | grep -q ':67 ' || die "dnsmasq did not start: $(cat "$WORK/dnsmasq.log")"
say "dnsmasq (pid ${EX_PIDS[-1]}) listens on 10.73.0.1:67"

step "each host asks for a lease (busybox udhcpc) and applies it"
cat >"$WORK/udhcpc.sh" <<'SH'
#!/bin/sh
# udhcpc event script: on a lease, the address on the interface and a note of it; nothing else.
case $1 in
deconfig) ip addr flush dev "$interface" ;;
bound | renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  echo "$ip/$mask router=$router lease=${lease}s server=$serverid" >"$LEASE_NOTE"
  ;;
esac
SH
chmod +x "$WORK/udhcpc.sh"
declare -A addr
for h in h1 h2; do
  t0=${EPOCHREALTIME/[.,]/}
  at "$h" env LEASE_NOTE="$WORK/lease-$h" busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 \
    -x hostname:"$h" -s "$WORK/udhcpc.sh" >"$WORK/udhcpc-$h.log" 2>&1 ||
    die "$h got no lease: $(cat "$WORK/udhcpc-$h.log")"
  addr[$h]=$(cut -d' ' -f1 "$WORK/lease-$h")
  say "$h: $(cat "$WORK/lease-$h") (in $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) ms)"
done
show at h1 ip -br addr show dev eth0
show at h2 ip -br addr show dev eth0
say "dnsmasq's lease file:"
sed 's/^/     /' "$WORK/leases"
[ "$(wc -l <"$WORK/leases")" -eq 2 ] || die "dnsmasq should have two leases"

step "the hosts reach the router and each other with their leased addresses"
ip1=${addr[h1]%/*} ip2=${addr[h2]%/*}
expect_ping h1 10.73.0.1 ok
expect_ping h2 10.73.0.1 ok
expect_ping h1 "$ip2" ok
expect_ping h2 "$ip1" ok
ping_matrix router:10.73.0.1:1 h1:"$ip1":1 h2:"$ip2":1

echo
echo "dhcp-router ($MODE): dnsmasq on the router handed out ${addr[h1]} and ${addr[h2]} through the switch; the hosts, the router and each other all reach"
