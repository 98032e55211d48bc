//! Cheap-to-clone identities.

use std::{fmt, sync::Arc};

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a name.
            pub fn new(name: impl Into<Arc<str>>) -> Self {
                Self(name.into())
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name as the shared string it is kept in: cloning it copies no text.
            pub fn as_arc(&self) -> &Arc<str> {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self::new(name)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// The configured, unique name of a provider (`providers[].name`); it appears in headers
    /// and reports.
    ProviderName
);
name_type!(
    /// Who a request is accounted to: the `X-Infermux-Caller` header, or `anonymous`.
    Caller
);
name_type!(
    /// The id of one request: an incoming `X-Request-Id`, or a generated UUID.
    RequestId
);

impl Caller {
    /// The caller of requests that carry no `X-Infermux-Caller` header.
    pub fn anonymous() -> Self {
        Self::new("anonymous")
    }
}
