//! QR codes as inline SVG (no image files, no JavaScript): what authenticator apps scan.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `text` as an SVG QR code, ready to inline in a page (`role="img"`, labelled).
pub fn svg(text: &str) -> String {
    let Ok(code) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) else {
        return String::new();
    };
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // Drop the XML declaration; label the image for screen readers.
    let start = image.find("<svg").unwrap_or(0);
    image[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\"",
        1,
    )
}
