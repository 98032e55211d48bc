//! The query string of the request-log endpoints: filters, time ranges, paging.

use std::time::{Duration, SystemTime};

use infermux_request_log::{Cursor, Filter, GroupBy, StatusFilter};

/// The parameters every request-log endpoint may take.
#[derive(Debug, Default)]
pub(super) struct Params {
    pub(super) filter: Filter,
    pub(super) limit: Option<usize>,
    pub(super) cursor: Option<Cursor>,
    pub(super) group_by: Option<GroupBy>,
    pub(super) bucket: Option<String>,
    pub(super) by: Option<GroupBy>,
    pub(super) hours: Option<u32>,
}

/// Which parameters an endpoint takes beyond the filters.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Accepts {
    pub(super) paging: bool,
    pub(super) group_by: bool,
    pub(super) series: bool,
}

/// Parses `query` at `now`; unknown parameters and bad values are refused with a message
/// that says what to write instead.
pub(super) fn parse(
    query: Option<&str>,
    now: SystemTime,
    accepts: Accepts,
) -> Result<Params, String> {
    let mut params = Params::default();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value);
        if value.is_empty() {
            continue;
        }
        let filter = &mut params.filter;
        match key {
            "since" => filter.since_ms = Some(time(&value, now, "since")?),
            "until" => filter.until_ms = Some(time(&value, now, "until")?),
            "caller" => filter.caller = Some(value),
            "key" => filter.key = Some(value),
            "model" => filter.model = Some(value),
            "provider" => filter.provider = Some(value),
            "status" => filter.status = Some(value.parse::<StatusFilter>()?),
            "limit" if accepts.paging => {
                params.limit = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| format!("`limit` must be from 1 to 1000, not `{value}`"))?,
                );
            }
            "cursor" if accepts.paging => params.cursor = Some(value.parse()?),
            "group_by" if accepts.group_by => params.group_by = Some(value.parse()?),
            "bucket" if accepts.series => params.bucket = Some(value),
            "by" if accepts.series => params.by = Some(value.parse()?),
            "hours" if accepts.series => {
                params.hours = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|h| (1..=24 * 366).contains(h))
                        .ok_or_else(|| {
                            format!("`hours` must be a whole number of hours, not `{value}`")
                        })?,
                );
            }
            _ => {
                return Err(format!(
                    "unknown parameter `{key}`; filters are since, until, caller, key, model, provider, status"
                ));
            }
        }
    }
    Ok(params)
}

/// An RFC 3339 time, or a duration back from `now` (`24h`, `7d`, `30d`), in ms.
pub(super) fn time(value: &str, now: SystemTime, name: &str) -> Result<i64, String> {
    let at = humantime::parse_rfc3339_weak(value)
        .or_else(|_| humantime::parse_duration(value).map(|d| now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH)))
        .map_err(|_| {
            format!("`{name}={value}`: write an RFC 3339 time (2026-03-14T10:00:00Z) or a span back from now (24h, 7d, 30d)")
        })?;
    Ok(millis(at))
}

/// `time` in ms since the Unix epoch.
pub(super) fn millis(time: SystemTime) -> i64 {
    i64::try_from(
        time.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// A time in ms as RFC 3339 (seconds), UTC.
pub(super) fn rfc3339(ms: i64) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(decode("gpt-4o%2Dmini"), "gpt-4o-mini");
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn times_are_rfc3339_or_spans_back_from_now() {
        let now = humantime::parse_rfc3339("2026-03-14T10:00:00Z").expect("time");
        assert_eq!(
            time("24h", now, "since"),
            time("2026-03-13T10:00:00Z", now, "since")
        );
        assert!(time("yesterday", now, "since").is_err());
        let p = parse(
            Some("since=7d&caller=a&status=4xx"),
            now,
            Accepts::default(),
        )
        .expect("ok");
        assert_eq!(p.filter.caller.as_deref(), Some("a"));
        assert!(parse(Some("limit=5"), now, Accepts::default()).is_err());
        assert!(
            parse(
                Some("group_by=colour"),
                now,
                Accepts {
                    group_by: true,
                    ..Accepts::default()
                }
            )
            .is_err()
        );
    }
}
