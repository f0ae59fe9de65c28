//! (report: to be written)
