//! `/_infermux/requests` (newest first, cursor pages) and `/_infermux/requests.csv`.

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use infermux_core::InferBody;
use infermux_request_log::RequestRecord;

use super::{
    logapi::{Failure, answer, log},
    params::{self, Accepts},
};
use crate::accounting::Accounting;

/// Rows per page when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// Rows a CSV export holds at most.
const CSV_MAX_ROWS: usize = 100_000;

/// `GET /_infermux/requests`.
pub(super) async fn list(accounting: &Accounting, query: Option<&str>) -> Response<InferBody> {
    answer(
        async {
            let paging = Accepts {
                paging: true,
                ..Accepts::default()
            };
            let p = params::parse(query, accounting.clock().now(), paging)
                .map_err(Failure::BadQuery)?;
            let log = log(accounting).await?;
            let page = log
                .store()
                .list(&p.filter, p.limit.unwrap_or(DEFAULT_LIMIT), p.cursor)
                .await?;
            let rows: Vec<_> = page.rows.iter().map(RequestRecord::to_json).collect();
            Ok(serde_json::json!({
                "requests": rows,
                "next_cursor": page.next.map(|c| c.to_string()),
            }))
        }
        .await,
    )
}

/// `GET /_infermux/requests.csv`: every matching row (newest first, up to 100,000), a
/// header row first.
pub(super) async fn csv(accounting: &Accounting, query: Option<&str>) -> Response<InferBody> {
    let result: Result<String, Failure> = async {
        let p = params::parse(query, accounting.clock().now(), Accepts::default())
            .map_err(Failure::BadQuery)?;
        let log = log(accounting).await?;
        let mut out = String::from(RequestRecord::CSV_HEADER);
        out.push_str("\r\n");
        let (mut cursor, mut written) = (None, 0);
        loop {
            let page = log.store().list(&p.filter, 1000, cursor).await?;
            for row in &page.rows {
                row.to_csv_row(&mut out);
            }
            written += page.rows.len();
            match page.next {
                Some(next) if written < CSV_MAX_ROWS => cursor = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }
    .await;
    match result {
        Ok(text) => {
            let mut response = Response::new(InferBody::full(Bytes::from(text)));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"infermux-requests.csv\""),
            );
            response
        }
        Err(failure) => failure.into_response(),
    }
}
