//! The dashboard: `GET /ui` and its assets under `/ui/`, every byte compiled into the
//! binary (no CDN, no network), and `GET /` redirecting to it.
//!
//! The page and its assets need no token (they hold no data); the data comes from the
//! management API, which the page calls with the `management_token` it asks for once.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use infermux_core::InferBody;

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    immutable: bool,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/ui",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("ui/index.html"),
        immutable: false,
    },
    Asset {
        path: "/ui/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("ui/app.js"),
        immutable: false,
    },
    Asset {
        path: "/ui/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("ui/app.css"),
        immutable: false,
    },
    Asset {
        path: "/ui/vendor/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("ui/vendor/uPlot.iife.min.js"),
        immutable: true,
    },
    Asset {
        path: "/ui/vendor/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("ui/vendor/uPlot.min.css"),
        immutable: true,
    },
    Asset {
        path: "/ui/vendor/LICENSE-uPlot",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("ui/vendor/LICENSE-uPlot"),
        immutable: true,
    },
];

/// The dashboard's answer for `path`, if it is one of its paths.
pub(super) fn respond(path: &str) -> Option<Response<InferBody>> {
    if path == "/" {
        let mut response = Response::new(InferBody::default());
        *response.status_mut() = StatusCode::FOUND;
        response
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/ui"));
        return Some(response);
    }
    let path = if path == "/ui/" || path == "/ui/index.html" {
        "/ui"
    } else {
        path
    };
    let asset = ASSETS.iter().find(|a| a.path == path)?;
    let mut response = Response::new(InferBody::full(Bytes::from_static(asset.bytes)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    // Everything the page loads comes from this server; nothing leaves it.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}
