//! Parses the benchmark INVITE N times with one parser, for instruction counting under
//! callgrind (`benches/instructions.sh`): `parse_loop tollswitch|rsip|rsipstack [N]`.

use bytes::Bytes;
use std::hint::black_box;
use tollswitch_sip_msg::Message;

include!("../benches/common/invite.rs");

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let bytes = Bytes::from_static(INVITE);
    let mut sum = 0usize;
    for _ in 0..n {
        sum += match which.as_str() {
            "rsip" => rsip_typed(black_box(INVITE)),
            "rsipstack" => rsipstack_typed(black_box(INVITE)),
            _ => tollswitch_typed(black_box(&bytes)),
        };
    }
    println!("{which}: {n} parses, checksum {sum}");
}

include!("../benches/common/typed_access.rs");
