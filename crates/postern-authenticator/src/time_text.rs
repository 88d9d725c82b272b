//! How times are shown: UTC clock times, "expires in 45 s", "3 days ago". Pure functions over
//! unix milliseconds and RFC 3339 strings; the current time is always a parameter.

/// "2026-11-26 08:14:02 UTC (3 days ago)", or "never".
pub fn describe_last_contact(last_ms: Option<i64>, now_ms: i64) -> String {
    let Some(last_ms) = last_ms else {
        return "never".into();
    };
    let ago = (now_ms - last_ms).max(0) / 1000;
    let ago_text = match ago {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", ago / 60),
        3600..86_400 => format!("{} h ago", ago / 3600),
        _ => format!("{} days ago", ago / 86_400),
    };
    format!("{} ({ago_text})", format_utc(last_ms))
}

/// `2026-11-26 08:14:02 UTC`.
pub fn format_utc(unix_ms: i64) -> String {
    let Ok(when) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
    else {
        return format!("{unix_ms} ms");
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        when.year(),
        u8::from(when.month()),
        when.day(),
        when.hour(),
        when.minute(),
        when.second()
    )
}

/// `08:14:02 UTC` from an RFC 3339 time, or the text as it came.
pub fn clock_time(rfc3339: &str) -> String {
    parse_rfc3339_ms(rfc3339)
        .map(|ms| {
            format_utc(ms)
                .split_once(' ')
                .map(|(_, t)| t.to_owned())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| rfc3339.to_owned())
}

pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let when =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((when.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// "expires in 45 s" / "expired".
pub fn expiry(expires: &str, now_ms: i64) -> String {
    match parse_rfc3339_ms(expires) {
        Some(ms) if ms > now_ms => format!("expires in {} s", (ms - now_ms + 999) / 1000),
        Some(_) => "expired".into(),
        None => format!("expires {expires}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_contact_in_words() {
        assert_eq!(describe_last_contact(None, 0), "never");
        let now = 1_764_400_000_000;
        assert_eq!(
            describe_last_contact(Some(now - 3 * 86_400_000), now),
            "2025-11-26 07:06:40 UTC (3 days ago)"
        );
        assert!(describe_last_contact(Some(now - 5_000), now).ends_with("(just now)"));
    }

    #[test]
    fn request_times() {
        let created = "2026-11-29T08:14:02Z";
        let at = parse_rfc3339_ms(created).unwrap();
        assert_eq!(clock_time(created), "08:14:02 UTC");
        assert_eq!(expiry("2026-11-29T08:15:02Z", at), "expires in 60 s");
        assert_eq!(expiry(created, at + 1), "expired");
        assert_eq!(clock_time("soon"), "soon");
    }
}
