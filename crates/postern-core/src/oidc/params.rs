//! Strict parsing of `application/x-www-form-urlencoded` parameters (query strings and form
//! bodies).
//!
//! RFC 6749 §3.1: parameters sent without a value are treated as omitted, and no parameter may
//! appear twice. Invalid percent-encoding or invalid UTF-8 is an error, never silently replaced.
//! Sizes are bounded so a hostile request cannot make the parser do unbounded work.

/// At most this many parameters.
pub const MAX_PARAMS: usize = 64;
/// Longest parameter name, in bytes after decoding.
pub const MAX_NAME: usize = 128;
/// Longest parameter value, in bytes after decoding.
pub const MAX_VALUE: usize = 8 * 1024;

/// Why parameters could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    InvalidEncoding,
    InvalidUtf8,
    Duplicate(String),
    TooMany,
    TooLong(String),
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::InvalidEncoding => f.write_str("the parameters are not valid URL encoding"),
            ParamError::InvalidUtf8 => f.write_str("the parameters are not valid UTF-8"),
            ParamError::Duplicate(name) => {
                write!(f, "the parameter '{name}' appears more than once")
            }
            ParamError::TooMany => write!(f, "more than {MAX_PARAMS} parameters"),
            ParamError::TooLong(name) => write!(f, "the parameter '{name}' is too long"),
        }
    }
}

/// Parsed parameters, in order, each name once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `a=1&b=2`. Empty values count as omitted.
    pub fn parse(input: &[u8]) -> Result<Params, ParamError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in input.split(|b| *b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if name.len() > MAX_NAME {
                return Err(ParamError::TooLong(truncate(&name)));
            }
            if value.len() > MAX_VALUE {
                return Err(ParamError::TooLong(name));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(ParamError::Duplicate(name));
            }
            if out.len() >= MAX_PARAMS {
                return Err(ParamError::TooMany);
            }
            out.push((name, value));
        }
        // Names are checked for duplicates before dropping empty values: `a=&a=1` is a duplicate.
        out.retain(|(_, v)| !v.is_empty());
        Ok(Params(out))
    }

    /// The value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Names present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// The first name not in `allowed`, for forms that refuse unknown fields.
    pub fn unknown<'a>(&'a self, allowed: &[&str]) -> Option<&'a str> {
        self.names().find(|n| !allowed.contains(n))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(raw: &[u8]) -> Result<String, ParamError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex);
                let lo = raw.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => return Err(ParamError::InvalidEncoding),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ParamError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses() {
        let p = Params::parse(b"a=1&b=hello+world&c=%41%42&d=").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("hello world"));
        assert_eq!(p.get("c"), Some("AB"));
        assert_eq!(p.get("d"), None, "empty values count as omitted");
        assert_eq!(
            Params::parse(b"a=1&a=2"),
            Err(ParamError::Duplicate("a".into()))
        );
        assert_eq!(
            Params::parse(b"a=&a=2"),
            Err(ParamError::Duplicate("a".into()))
        );
        assert_eq!(Params::parse(b"a=%ff"), Err(ParamError::InvalidUtf8));
        assert_eq!(Params::parse(b"a=%4"), Err(ParamError::InvalidEncoding));
        assert_eq!(Params::parse(b"a=%zz"), Err(ParamError::InvalidEncoding));
        assert_eq!(
            Params::parse(&[b'a', b'=', 0xC3]),
            Err(ParamError::InvalidUtf8)
        );
        let many: Vec<String> = (0..65).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(many.join("&").as_bytes()),
            Err(ParamError::TooMany)
        );
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert_eq!(
            Params::parse(long.as_bytes()),
            Err(ParamError::TooLong("a".into()))
        );
        assert_eq!(p.unknown(&["a", "b", "c"]), None);
        assert_eq!(p.unknown(&["a"]), Some("b"));
    }

    proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Params::parse(&input);
        }

        #[test]
        fn encoded_pairs_round_trip(
            pairs in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{1,40}", 0..10)
        ) {
            let encoded: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            let parsed = Params::parse(encoded.join("&").as_bytes()).unwrap();
            for (k, v) in &pairs {
                prop_assert_eq!(parsed.get(k), Some(v.as_str()));
            }
        }

        #[test]
        fn any_duplicate_is_refused(name in "[a-z]{1,8}", a in "[a-z0-9]{0,8}", b in "[a-z0-9]{0,8}") {
            let input = format!("{name}={a}&x_other=1&{name}={b}");
            prop_assert_eq!(Params::parse(input.as_bytes()), Err(ParamError::Duplicate(name.clone())));
        }
    }

    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
}
