//! Reading a QR code from a screenshot, as a phone's camera does (so a test follows the picture a
//! person would scan, not a link copied out of the HTML).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// The text of the QR code in a PNG image.
pub fn decode_png(png_bytes: &[u8]) -> Result<String, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("unreadable PNG: {e}"))?;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let channels = frame.color_type.samples();
    let data = &buf[..frame.buffer_size()];
    let grey = |x: usize, y: usize| -> u8 {
        let p = &data[(y * w + x) * channels..][..channels];
        match channels {
            1 | 2 => p[0],
            _ => {
                ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000)
                    as u8
            }
        }
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, grey);
    let grids = image.detect_grids();
    let grid = grids.first().ok_or("no QR code found in the image")?;
    grid.decode()
        .map(|(_, text)| text)
        .map_err(|e| format!("the QR code does not decode: {e:?}"))
}
