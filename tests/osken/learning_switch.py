"""An L2 learning switch for OpenFlow 1.3, written against the os-ken API.

It behaves like Ryu's classic simple_switch_13 sample (which os-ken no
longer ships):

- on SwitchFeatures: install the table-miss flow (priority 0, empty match,
  output CONTROLLER with max_len OFPCML_NO_BUFFER);
- on PacketIn: learn eth_src -> in_port for that datapath; output to the
  learned port of eth_dst, or FLOOD when unknown; when the port is known,
  install a priority 1 flow in_port,eth_dst,eth_src -> output so later
  packets stay in the switch; send the packet itself with a PACKET_OUT.

For the end-to-end tests it writes one line per event, flushed at once, to
the file named by $OSKEN_EVENTS (stdout when unset):

    connected dpid=0x<hex>
    packet_in dpid=0x<hex> n=<count> in_port=<p> src=<mac> dst=<mac>
    flow dpid=0x<hex> in_port=<p> dst=<mac> out=<p>
    disconnected dpid=0x<hex>
"""

import os
import sys
import threading

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (
    CONFIG_DISPATCHER,
    DEAD_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
)
from os_ken.lib.packet import ethernet, ether_types, packet
from os_ken.ofproto import ofproto_v1_3


class _EventLog:
    """Line-per-event output shared by the handlers (they may run on
    different threads with os-ken 4's native-thread hub)."""

    def __init__(self):
        path = os.environ.get("OSKEN_EVENTS")
        self._out = open(path, "a", buffering=1) if path else sys.stdout
        self._lock = threading.Lock()

    def write(self, line):
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


class LearningSwitch13(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # dpid -> {mac: port}
        self.mac_to_port = {}
        self.packet_ins = {}
        self.event_log = _EventLog()

    def add_flow(self, dp, priority, match, actions):
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(
            parser.OFPFlowMod(
                datapath=dp,
                priority=priority,
                match=match,
                instructions=inst,
                buffer_id=ofp.OFP_NO_BUFFER,
            )
        )

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def on_features(self, ev):
        dp = ev.msg.datapath
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        self.mac_to_port.setdefault(dp.id, {})
        # Table miss: everything unknown comes to us, whole (no buffering).
        miss = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        self.add_flow(dp, 0, parser.OFPMatch(), miss)
        self.event_log.write("connected dpid=0x%016x" % dp.id)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def on_dead(self, ev):
        dp = ev.datapath
        if dp.id is not None:
            self.event_log.write("disconnected dpid=0x%016x" % dp.id)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def on_packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        in_port = msg.match["in_port"]

        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None:
            return
        n = self.packet_ins.get(dp.id, 0) + 1
        self.packet_ins[dp.id] = n
        self.event_log.write(
            "packet_in dpid=0x%016x n=%d in_port=%d src=%s dst=%s"
            % (dp.id, n, in_port, eth.src, eth.dst)
        )
        if eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return

        table = self.mac_to_port.setdefault(dp.id, {})
        table[eth.src] = in_port
        out_port = table.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]

        if out_port != ofp.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=in_port, eth_dst=eth.dst, eth_src=eth.src)
            self.add_flow(dp, 1, match, actions)
            self.event_log.write(
                "flow dpid=0x%016x in_port=%d dst=%s out=%d"
                % (dp.id, in_port, eth.dst, out_port)
            )

        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(
            parser.OFPPacketOut(
                datapath=dp,
                buffer_id=msg.buffer_id,
                in_port=in_port,
                actions=actions,
                data=data,
            )
        )
