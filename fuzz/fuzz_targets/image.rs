//! Frame decoding of the video crate: `decode_image` on arbitrary bytes, then the
//! `ImageFolder` frame source over a folder of two files (the input split in two), which
//! must hand out frames of the announced size or an error.
#![no_main]

use gaussmix_video::source::{decode_image, FrameSource, ImageFolder};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// One temporary directory for the whole run; each input overwrites the same two files.
fn temp_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = decode_image(data) {
        // What the frame source does with a decoded frame.
        let _ = img.to_rgb8();
        let _ = img.to_luma8();
    }
    // Two frames: the first half and the whole input (so a valid image yields two
    // frames or a size/decode error for the first).
    let dir = temp_dir();
    let mid = data.len() / 2;
    std::fs::write(dir.join("a.png"), &data[..mid]).expect("write frame");
    std::fs::write(dir.join("b.png"), data).expect("write frame");
    if let Ok(mut src) = ImageFolder::open(dir) {
        let (w, h, c) = (src.width(), src.height(), src.channels());
        let mut buf = Vec::new();
        while let Ok(true) = src.next_frame(&mut buf) {
            assert_eq!(buf.len(), w * h * c);
        }
    }
});
