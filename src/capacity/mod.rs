//! (capacity: to be written)
