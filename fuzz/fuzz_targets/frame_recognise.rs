//! Any bytes given as a frame are recognised as linerate's or not, by the
//! same rules as the XDP counter, without a panic; a recognised frame's
//! header reads back through the typed views.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linerate_engine::wire::recognise::recognise;
use linerate_engine::wire::{EthernetFrame, Ipv4Packet, Ipv6Packet, UdpDatagram, VlanTag};

fuzz_target!(|data: &[u8]| {
    let recognised = recognise(data);
    // The views alone, at every layer offset, never read out of bounds.
    if let Ok(ethernet) = EthernetFrame::new_checked(data) {
        let _ = (ethernet.source(), ethernet.destination(), ethernet.ether_type());
        let payload = ethernet.payload();
        if let Ok(tag) = VlanTag::new_checked(payload) {
            let _ = (tag.vlan_id(), tag.priority(), tag.ether_type());
        }
        if let Ok(ip) = Ipv4Packet::new_checked(payload) {
            let _ = (ip.source(), ip.destination(), ip.verify_checksum(), ip.payload().len());
            if let Ok(udp) = UdpDatagram::new_checked(ip.payload()) {
                let _ = (udp.source_port(), udp.length(), udp.payload().len());
            }
        }
        if let Ok(ip) = Ipv6Packet::new_checked(payload) {
            let _ = (ip.source(), ip.next_header(), ip.payload_len());
        }
    }
    if let Some(header) = recognise(data) {
        assert_eq!(Some(header), recognised);
    }
});
