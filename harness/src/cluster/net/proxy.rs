//! The proxy backend. (Being built.)
