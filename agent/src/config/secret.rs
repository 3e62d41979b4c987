//! Secret configuration values (passwords, secret keys, webhook URLs).
//!
//! Invariant: a [`Secret`] never prints its value (`Debug` writes `***`); only [`Secret::expose`]
//! gives it, to the code that sends it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string (passwords, secret keys): printed as `***` everywhere.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Secret {
    /// Returns the secret value; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}
