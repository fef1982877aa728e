//! Parsing the flow syntax `ovs-ofctl -O OpenFlow13 add-flow` accepts.
