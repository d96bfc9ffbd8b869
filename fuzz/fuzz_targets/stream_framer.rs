//! A TCP byte stream cut at arbitrary points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollswitch_sip_msg::{ParseOptions, StreamFramer};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let mut f = StreamFramer::new(ParseOptions {
        max_message_size: 8192,
    });
    for chunk in rest.chunks(usize::from(cut).max(1)) {
        f.push(chunk);
        while let Ok(Some(_)) = f.next_frame() {}
        if f.is_broken() {
            return;
        }
    }
});
