#!/usr/bin/env bash
# A container attached like ovs-docker (`ofswitch vsctl add-netns-port`: veth pair, address, MAC,
# gateway, MTU, recorded in its interface's external_ids, where ovs-docker puts them) reaches an outside namespace through NAT
# (MASQUERADE) on its host, via the bridge's internal port; then it is detached again
# (`del-port`, and `del-netns-port` for a second one) and its interface is gone.
#
#   examples/netns-nat/run.sh [--standalone] [--keep]
#
# By default the bundled controller (learning only, every port in VLAN 1, the bridge's LOCAL
# port included) drives the bridge (fail-mode secure); --standalone: no controller, NORMAL.
#
#   c1 (ns) eth0 172.31.0.10/24, gw .1, MTU 1400
#     |  veth (add-netns-port)
#   host (ns): ofswitch br0 -- br0 internal port 172.31.0.1/24
#              ip_forward=1, MASQUERADE 172.31.0.0/24 out of the uplink
#     |  veth uplink 198.51.100.1/24
#   outside (ns) 198.51.100.2/24 (no route to 172.31.0.0/24: only NAT answers)
source "$(dirname "$0")/../lib.sh"

example_args "$@"
need iptables iperf3

step "a host (namespace with its own ofswitch daemon) and an outside namespace, joined by a veth"
host host
netns outside
link host 198.51.100.1 outside 198.51.100.2
UPLINK=${P}l1a
say "host uplink $UPLINK 198.51.100.1 <-> outside 198.51.100.2"

step "bridge br0; its internal port br0 is the containers' gateway, 172.31.0.1/24"
ofs host vsctl add-br br0
if [ "$MODE" = controller ]; then
  controller host 127.0.0.1
  controlled host 127.0.0.1 br0
  wait_resynced 1
  say "the bundled controller drives br0 (learning only, no policy)"
fi
show at host ip addr add 172.31.0.1/24 dev br0
at host ip link set br0 up

step "a container attached like ovs-docker: address, MAC, gateway and MTU in one command"
netns c1
show ofs host vsctl add-netns-port br0 "${P}c1" "${P}c1" --ifname=eth0 --ipaddress=172.31.0.10/24 \
  --macaddress=02:00:ac:1f:00:0a --gateway=172.31.0.1 --mtu=1400
say "the attachment is recorded in the interface's external_ids, as ovs-docker does:"
show ofs host vsctl get interface "${P}c1" external_ids
ext=$(ofs host vsctl get interface "${P}c1" external_ids)
for kv in "container_id=${P}c1" container_iface=eth0 '"172.31.0.10/24"' '"02:00:ac:1f:00:0a"' '"172.31.0.1"'; do
  case $ext in *"$kv"*) ;; *) die "external_ids lack $kv: $ext" ;; esac
done
show ofs host vsctl get interface "${P}c1" mtu_request
show at c1 ip -br addr show dev eth0
show at c1 ip route
at c1 ip link show eth0 | grep -q "mtu 1400" || die "eth0 of c1 has not MTU 1400"
at c1 ip link show eth0 | grep -q "02:00:ac:1f:00:0a" || die "eth0 of c1 has not its MAC"

step "the container reaches its gateway, the bridge's internal port (LOCAL)"
expect_ping c1 172.31.0.1 ok

step "the host forwards, but without NAT the outside cannot answer (it has no route back)"
show at host sysctl -w net.ipv4.ip_forward=1
expect_ping c1 198.51.100.2 fail

step "MASQUERADE on the host: the container reaches the outside as the host"
show at host iptables -t nat -A POSTROUTING -s 172.31.0.0/24 -o "$UPLINK" -j MASQUERADE
expect_ping c1 198.51.100.2 ok
ip netns exec "${P}outside" iperf3 -s -1 -B 198.51.100.2 --logfile "$WORK/iperf3-server.log" &
EX_PIDS+=($!)
for _ in $(seq 50); do at outside ss -ltn | grep -q ':5201 ' && break; sleep 0.1; done
show at c1 iperf3 -c 198.51.100.2 -t 1 -f m
wait "${EX_PIDS[-1]}" || true
from=$(grep -m1 "Accepted connection from" "$WORK/iperf3-server.log" || true)
say "the outside's iperf3 server: ${from:-no connection logged}"
case $from in *"from 198.51.100.1,"*) ;; *) die "the outside did not see the host's address 198.51.100.1" ;; esac
show at host iptables -t nat -L POSTROUTING -v -n

step "detaching: del-port removes the veth pair, the container's eth0 goes with it"
show ofs host vsctl del-port br0 "${P}c1"
gone c1 eth0 || die "c1 still has eth0 after del-port"
show at c1 ip -br link
ip link show "${P}c1" >/dev/null 2>&1 && die "the host end ${P}c1 is still there"

step "del-netns-port BR NETNS detaches every port of a namespace (ovs-docker del-ports)"
netns c2
ofs host vsctl add-netns-port br0 "${P}c2a" "${P}c2" --ifname=eth0 --ipaddress=172.31.0.20/24
ofs host vsctl add-netns-port br0 "${P}c2b" "${P}c2" --ifname=eth1 --ipaddress=172.31.0.21/24
show at c2 ip -br addr
expect_ping c2 172.31.0.1 ok
show ofs host vsctl del-netns-port br0 "${P}c2"
gone c2 eth0 && gone c2 eth1 || die "c2 still has an interface after del-netns-port"
show at c2 ip -br link
[ -z "$(ofs host vsctl list-ports br0)" ] || die "br0 still has ports: $(ofs host vsctl list-ports br0)"

echo
echo "netns-nat ($MODE): the container (attached with address, MAC, gateway, MTU 1400, recorded in external_ids) reached the outside only through MASQUERADE, seen as 198.51.100.1; del-port and del-netns-port removed its interfaces"
