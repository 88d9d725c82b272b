//! Reading what a page shows: attributes, hidden inputs, links, error codes, escaped text.

/// The value of the first `NAME="…"` attribute.
pub fn attr(body: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(
        body[start..end]
            .replace("&#x2f;", "/")
            .replace("&#47;", "/"),
    )
}

/// The value of a hidden input.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Undoes the HTML escaping of an attribute value or text.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The error code shown on a page, if any.
pub fn shown_code(body: &str) -> Option<String> {
    let key = "data-field=\"error-code\">";
    let start = body.find(key)? + key.len();
    Some(body[start..].split('<').next()?.to_owned())
}

/// Every link target of a page, unescaped.
pub fn links(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .map(unescape)
        .collect()
}
