//! A server-sent events parser (the WHATWG `text/event-stream` format), fed bytes as they come.
//!
//! Owns framing only: lines, `event:` / `data:` fields, comments, dispatch on a blank line.
//! What an event means is `listen`'s business; reading the socket is `client`'s.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `message` when the stream named none.
    pub event: String,
    pub data: String,
}

/// Incremental parser: `feed` bytes, get the events they complete.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    /// A `\r` ended the last chunk: a `\n` starting the next one belongs to it.
    after_cr: bool,
}

/// Streams larger than this without a line break are not event streams.
const MAX_LINE: usize = 1 << 20;

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; returns the events completed by them. Errors when a line grows past 1 MiB.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.buffer);
                    if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                        events.push(event);
                    }
                }
                _ => {
                    if self.buffer.len() >= MAX_LINE {
                        return Err("an event-stream line is longer than 1 MiB".into());
                    }
                    self.buffer.push(b);
                }
            }
        }
        Ok(events)
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            return data.map(|data| SseEvent {
                event: event.unwrap_or_else(|| "message".into()),
                data,
            });
        }
        if line.starts_with(':') {
            return None; // a comment, e.g. `: keepalive`
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match self.data.as_mut() {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {} // id, retry and unknown fields: not used by this API
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_comments_and_split_chunks() {
        let mut parser = SseParser::new();
        let stream = b": keepalive\n\nevent: challenge\ndata: {\"id\":\"c1\"}\n\nevent: resolved\r\ndata: {\"id\":\"c1\"}\r\n\r\ndata: a\ndata: b\n\n";
        // Feed one byte at a time: chunk boundaries anywhere, including inside \r\n.
        let mut events = Vec::new();
        for b in stream.iter() {
            events.extend(parser.feed(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "challenge".into(),
                    data: "{\"id\":\"c1\"}".into()
                },
                SseEvent {
                    event: "resolved".into(),
                    data: "{\"id\":\"c1\"}".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "a\nb".into()
                },
            ]
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        let mut parser = SseParser::new();
        assert!(parser.feed(b"event: challenge\n\n").unwrap().is_empty());
        assert_eq!(parser.feed(b"data:x\n\n").unwrap()[0].event, "message");
    }
}
